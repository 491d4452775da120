#!/usr/bin/env bash
# test-sdk.sh — the generated client SDKs, end to end: generate them from the services' OpenAPI documents
# (scripts/sdk/generate.sh: openapi-generator validates each document, and every TypeScript client must
# compile), install the four Python clients, and drive the order-to-bill flow through them against a stack of
# its own (scripts/sdk/flow_test.py). A document that is invalid, or that does not describe what its service
# really does, fails here.
#
# It uses its own state directory and ports, so it never disturbs the main dev stack:
#   BSS_DEV_DIR=<repo>/.dev/sdk-test, PostgreSQL 25632, Redis 26579, services 18720/18722/18729/18778.
# The directory is wiped at the start (a fresh cluster every run) and kept afterwards for its logs. The billing
# scheduler is off (BILLING_RUN_SCHEDULER=false): the flow's own bill run is the only one, so its bill is exact.
# Other settings pass through: BSS_BIN_DIR and BSS_SKIP_BUILD (to generate.sh and devstack.sh), SDK_DOCS (use
# these documents instead of `<binary> openapi`, see generate.sh), BSS_READY_TIMEOUT.
#
# Output: one "ok"/"not ok" line per check (the flow's own included), then exactly "sdk: N passed, M failed".
# Exit status: 0 when every check passed.
set -uo pipefail # no -e: a failed check is counted, not fatal

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVSTACK=(bash "$REPO/scripts/devstack.sh")
SERVICES=(catalog customer order billing)

# shellcheck source=lib/checks.sh
source "$REPO/scripts/lib/checks.sh"
use_private_stack sdk-test 25632 26579 187
export BILLING_RUN_SCHEDULER=false
OUT=$REPO/.dev/sdk-test-output # output of the last run's steps, for diagnosis
VENV=$REPO/.dev/tools/sdk-python

generated() { # openapi-generator accepted every document and generated every client
  grep -q '^sdk: openapi-generator: .* clients generated' "$OUT/generate.log"
}

typescript_compiles() {
  grep -q '^sdk: tsc .* --noEmit: the .* TypeScript clients compile' "$OUT/generate.log"
}

# The four generated Python clients in one venv (pip pulls pydantic, urllib3 and python-dateutil from PyPI on
# first use); the clients themselves are reinstalled every run, as they were just generated.
install_python_clients() {
  local -a dirs=()
  local svc
  for svc in "${SERVICES[@]}"; do dirs+=("$REPO/sdk/python/$svc"); done
  if [[ ! -x $VENV/bin/python ]]; then
    python3 -m venv "$VENV" 2>/dev/null || { "${DEVSTACK[@]}" apt-install python3-venv && python3 -m venv "$VENV"; }
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check "${dirs[@]}" &&
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall "${dirs[@]}" &&
    "$VENV/bin/python" -c "import bss_catalog, bss_customer, bss_order, bss_billing"
}

# The flow's own checks count here; its closing line is replaced by ours.
FLOW_PASSED=0
FLOW_FAILED=0
run_flow() {
  local line summary=""
  while IFS= read -r line; do
    if [[ $line =~ ^flow:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
      summary=$line
      FLOW_PASSED=${BASH_REMATCH[1]}
      FLOW_FAILED=${BASH_REMATCH[2]}
    else
      echo "$line"
    fi
  done < <(
    CATALOG_URL=http://127.0.0.1:$BSS_PORT_CATALOG CUSTOMER_URL=http://127.0.0.1:$BSS_PORT_CUSTOMER \
      ORDER_URL=http://127.0.0.1:$BSS_PORT_ORDER BILLING_URL=http://127.0.0.1:$BSS_PORT_BILLING TOKEN=$TOKEN \
      "$VENV/bin/python" "$REPO/scripts/sdk/flow_test.py" 2>&1 </dev/null
  )
  [[ -n $summary ]] || {
    FLOW_FAILED=$((FLOW_FAILED + 1))
    echo "not ok - flow_test.py printed no summary"
  }
}

start_fresh_stack
echo "sdk: stack in $BSS_DEV_DIR, step output in $OUT"

check "ports ${ALL_PORTS[*]} are free before the test" no_port_listens
check "generate.sh (make sdk) succeeds" logged generate bash "$REPO/scripts/sdk/generate.sh"
check "generate.sh: openapi-generator accepted the four documents and generated the 12 clients" generated
check "generate.sh: the TypeScript clients compile (tsc --noEmit, strict)" typescript_compiles
if generated; then
  check "the four Python clients install into .dev/tools/sdk-python" logged pip install_python_clients
else
  fail "the four Python clients install into .dev/tools/sdk-python (nothing generated)"
fi
check "devstack up (BILLING_RUN_SCHEDULER=false)" logged up "${DEVSTACK[@]}" up
TOKEN=$("${DEVSTACK[@]}" token 2>"$OUT/token.log" </dev/null) || TOKEN=""
check "devstack token prints a token" test -n "$TOKEN"
if [[ -x $VENV/bin/python ]] && generated && [[ -n $TOKEN ]]; then
  run_flow
else
  fail "the order-to-bill flow through the Python clients (not run: no clients, stack or token)"
fi
PASSED=$((PASSED + FLOW_PASSED))
FAILED=$((FAILED + FLOW_FAILED))
check "devstack down" logged down "${DEVSTACK[@]}" down
check "no port of the stack is listening" no_port_listens

echo "sdk: $PASSED passed, $FAILED failed"
((FAILED == 0))
