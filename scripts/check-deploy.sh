#!/usr/bin/env bash
# The offline deployment checks (issue 7; DESIGN.md §7): no Docker engine, no cluster, only validators.
#   scripts/check/containers.sh     Dockerfiles (hadolint + assertions), compose.yaml (compose schema, structure)
#   scripts/check/helm.sh           every chart linted strictly, rendered under several value scenarios and
#                                   validated (kubernetes-validate --strict), assertions, golden renders,
#                                   deploy/k8s drift
#   scripts/check/observability.sh  Prometheus rules (promtool check + unit tests), scrape configs, Grafana
#                                   dashboards and every PromQL expression in them
#   scripts/check/workflows.sh      GitHub workflows (actionlint, workflow schema, yamllint)
# Tools come from scripts/deploy-tools.sh (installed under .dev/tools on first use). Runs every check, then
# exits 1 if any failed, naming them.
#   scripts/check-deploy.sh [containers|helm|observability|workflows]...
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
eval "$(bash scripts/deploy-tools.sh)"

checks=("$@")
((${#checks[@]})) || checks=(containers helm observability workflows)
failed=()
for check in "${checks[@]}"; do
  printf '\n--> deploy check: %s\n' "$check"
  start=$SECONDS
  if bash "scripts/check/$check.sh"; then
    printf -- '--> %s passed (%ss)\n' "$check" $((SECONDS - start))
  else
    printf -- '--> %s FAILED (%ss)\n' "$check" $((SECONDS - start))
    failed+=("$check")
  fi
done
if ((${#failed[@]})); then
  echo "deploy checks failed: ${failed[*]}" >&2
  exit 1
fi
echo "deploy checks passed: ${checks[*]}"
