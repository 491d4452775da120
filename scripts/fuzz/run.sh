#!/usr/bin/env bash
# `make fuzz`: schemathesis against each service, generating requests from the OpenAPI document the service
# serves (/openapi.json: every operation it implements, with valid and invalid parameters and bodies) and, in
# the full run, also from the official TMF v4 document of its API (../shared/tmf/specs, or TMF_SPECS: the
# operations of the contract it does not implement too). Two checks: no 5xx (schemathesis'
# not_a_server_error) and every rejection in the TMF error body (scripts/fuzz/tmf_checks.py).
# The services run on a stack of their own (BSS_DEV_DIR=.dev/fuzz, own ports, debug build) with a token of
# every scope, so the requests get past authentication and reach the handlers.
#
#   make fuzz                         # MAX_EXAMPLES=100 cases per operation, at most MAX_SECS=600 per service
#   SMOKE=1 bash scripts/fuzz/run.sh  # .ci/run: the fuzzing phase only, 10 per operation, 40 s per service
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
SMOKE=${SMOKE:-0}
MAX_EXAMPLES=${MAX_EXAMPLES:-$([[ $SMOKE == 1 ]] && echo 10 || echo 100)}
# Time budget per service (TMF622's nested order schema makes generation slow) and the phases to run.
MAX_SECS=${MAX_SECS:-$([[ $SMOKE == 1 ]] && echo 40 || echo 600)}
PHASES=${PHASES:-$([[ $SMOKE == 1 ]] && echo fuzzing || echo examples,coverage,fuzzing)}
# The smoke is reproducible (a fixed seed: CI must not go red on a new random case); `make fuzz` explores
# with a new seed each run and prints it, and SEED=… replays one.
SEED=${SEED:-$([[ $SMOKE == 1 ]] && echo 20261203 || echo "")}
seed_args=()
[[ -n $SEED ]] && seed_args=(--seed "$SEED")
PROFILE=${PROFILE:-debug}
SPECS=${TMF_SPECS:-$REPO/../shared/tmf/specs}
SCHEMATHESIS_VERSION=4.32.5
# Pinned beside it: scripts/fuzz/tmf_checks.py patches one of its internals (see there).
HYPOTHESIS_VERSION=6.170.17
say() { echo "fuzz: $*" >&2; }
# The official specs live beside the repository, not in it: without them only the services' own documents
# are fuzzed (said loudly); the smoke fuzzes only those anyway.
OFFICIAL=$([[ $SMOKE == 1 ]] && echo 0 || echo 1)
if [[ $OFFICIAL == 1 && ! -d $SPECS ]]; then
  say "the official TMF specs are not at $SPECS (set TMF_SPECS): fuzzing only the services' own documents"
  OFFICIAL=0
fi

venv=$REPO/.dev/tools/schemathesis
if [[ ! -x $venv/bin/st ]] || ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION" ||
  ! "$venv/bin/python" -c "import hypothesis, sys; sys.exit(hypothesis.__version__ != '$HYPOTHESIS_VERSION')" 2>/dev/null; then
  say "installing schemathesis $SCHEMATHESIS_VERSION (hypothesis $HYPOTHESIS_VERSION) into .dev/tools/schemathesis"
  python3 -m venv "$venv" 2>/dev/null || { bash scripts/devstack.sh apt-install python3-venv >/dev/null && python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==$HYPOTHESIS_VERSION"
fi

export BSS_DEV_DIR=$REPO/.dev/fuzz BSS_PG_PORT=${FUZZ_PG_PORT:-28432} BSS_REDIS_PORT=${FUZZ_REDIS_PORT:-28379}
export BSS_PORT_CATALOG=22620 BSS_PORT_CUSTOMER=22629 BSS_PORT_ORDER=22622 BSS_PORT_BILLING=22678
export BSS_SKIP_BUILD=1 RUST_LOG=warn
DEVSTACK="bash scripts/devstack.sh"
# FUZZ_BIN_DIR runs binaries built earlier (a long run from copies leaves target/ free for building).
if [[ -n ${FUZZ_BIN_DIR:-} ]]; then
  export BSS_BIN_DIR=$FUZZ_BIN_DIR
else
  export BSS_BIN_DIR=$REPO/target/$PROFILE
  build_flags=(-q -p catalog -p customer -p order -p billing -p bss-dev)
  [[ $PROFILE == release ]] && build_flags+=(--release)
  cargo build "${build_flags[@]}"
fi
trap '$DEVSTACK clean >/dev/null 2>&1 || true' EXIT
$DEVSTACK clean >/dev/null 2>&1 || true
$DEVSTACK up >/dev/null
eval "$($DEVSTACK env)"
TOKEN=$("$BSS_BIN_DIR/bss-dev" token)

failed=()
fuzz() { # fuzz SERVICE SPEC_FILE_OR_URL BASE_URL
  say "$1: $MAX_EXAMPLES cases per operation of $2"
  if ! SCHEMATHESIS_HOOKS=tmf_checks PYTHONPATH=$REPO/scripts/fuzz "$venv/bin/st" --no-color run "$2" --url "$3" \
    -H "Authorization: Bearer $TOKEN" --checks not_a_server_error,tmf_error_body \
    --phases "$PHASES" --max-examples "$MAX_EXAMPLES" --max-time "$MAX_SECS" --workers 2 --request-timeout 30 \
    --generation-database none "${seed_args[@]}"; then
    failed+=("$1")
  fi
}
for service in catalog customer order billing; do
  url_variable=${service^^}_URL
  fuzz "$service" "${!url_variable}/openapi.json" "${!url_variable}"
done
if [[ $OFFICIAL == 1 ]]; then
  fuzz catalog "$SPECS/TMF620-ProductCatalog-v4.1.0.swagger.json" "$CATALOG_URL/tmf-api/productCatalogManagement/v4"
  fuzz customer "$SPECS/TMF629-Customer-v4.0.0.swagger.json" "$CUSTOMER_URL/tmf-api/customerManagement/v4"
  fuzz order "$SPECS/TMF622-ProductOrdering-v4.0.0.swagger.json" "$ORDER_URL/tmf-api/productOrderingManagement/v4"
  fuzz billing "$SPECS/TMF678-CustomerBill-v4.0.0.swagger.json" "$BILLING_URL/tmf-api/customerBillManagement/v4"
fi
if ((${#failed[@]} > 0)); then
  say "failures in: ${failed[*]}"
  exit 1
fi
say "no 5xx, every rejection a TMF error"
