#!/usr/bin/env bash
# Offline checks of the Helm charts under helm/ and the generated manifests under deploy/k8s: strict lint,
# renders of every scenario validated against Kubernetes 1.31 schemas, assertions, must-fail renders, golden
# renders, deploy/k8s drift and yamllint (scripts/helm/check.py). No cluster and no helm binary needed.
#   bash scripts/check/helm.sh            # check
#   bash scripts/check/helm.sh --update   # rewrite helm/tests/golden after a reviewed change
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(bash scripts/deploy-tools.sh)"
python scripts/helm/check.py "$@"
