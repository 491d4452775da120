#!/usr/bin/env bash
# Dependency-graph checks that need no network: pitfalls DESIGN.md §6 names, asserted on the resolved graph.
# - one version of each OpenTelemetry crate (a tracing-actix-web or reqwest-tracing feature for another otel
#   version silently yields empty trace ids);
# - no `ring` and no `openssl-sys` (two rustls crypto providers panic at the first handshake);
# - no `tonic` (OTLP over HTTP only, ADR 0007).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

failures=0
fail() { echo "check-deps: $*" >&2; failures=$((failures + 1)); }

tree=$(cargo tree --workspace --edges normal,build --prefix none --format '{p}' --locked 2>/dev/null | sort -u)
for crate in opentelemetry opentelemetry_sdk opentelemetry-otlp opentelemetry-http tracing-opentelemetry; do
  versions=$(grep -E "^${crate} v" <<<"$tree" | awk '{print $2}' | sort -u)
  count=$(grep -c . <<<"$versions" || true)
  [[ $count -le 1 ]] || fail "$crate is present in $count versions: $(tr '\n' ' ' <<<"$versions")"
done
for banned in ring openssl-sys tonic; do
  if grep -qE "^${banned} v" <<<"$tree"; then
    fail "$banned is in the dependency graph: $(cargo tree --workspace -i "$banned" --prefix none 2>/dev/null | head -3 | tr '\n' ' ')"
  fi
done

if [[ $failures -gt 0 ]]; then
  echo "check-deps: $failures problem(s)" >&2
  exit 1
fi
echo "check-deps: one OpenTelemetry version, aws-lc-rs only, no gRPC — ok"
