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

export BSS_DEV_DIR=$REPO/.dev/sdk-test
export BSS_PG_PORT=25632
export BSS_REDIS_PORT=26579
export BSS_PORT_CATALOG=18720
export BSS_PORT_ORDER=18722
export BSS_PORT_CUSTOMER=18729
export BSS_PORT_BILLING=18778
export BILLING_RUN_SCHEDULER=false
ALL_PORTS=("$BSS_PG_PORT" "$BSS_REDIS_PORT" "$BSS_PORT_CATALOG" "$BSS_PORT_ORDER" "$BSS_PORT_CUSTOMER"
  "$BSS_PORT_BILLING")
OUT=$REPO/.dev/sdk-test-output # output of the last run's steps, for diagnosis
VENV=$REPO/.dev/tools/sdk-python

PASSED=0
FAILED=0

pass() {
  PASSED=$((PASSED + 1))
  echo "ok     - $*"
}
fail() {
  FAILED=$((FAILED + 1))
  echo "not ok - $*"
}
# check DESCRIPTION COMMAND...: one check.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

port_open() {
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

no_port_listens() {
  local port busy=""
  for port in "${ALL_PORTS[@]}"; do port_open "$port" && busy+="$port "; done
  [[ -z $busy ]] || {
    echo "    still listening: $busy"
    return 1
  }
}

# logged STEP COMMAND...: run COMMAND, output into $OUT/STEP.log; on failure show its tail.
logged() {
  local step=$1 rc=0
  shift
  "$@" >"$OUT/$step.log" 2>&1 </dev/null || rc=$?
  if ((rc != 0)); then
    echo "    $* exited $rc; last lines of $OUT/$step.log:"
    tail -n 30 "$OUT/$step.log" | sed 's/^/    | /'
  fi
  return "$rc"
}

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

# Whatever happens, leave nothing of this stack running.
cleanup() {
  "${DEVSTACK[@]}" down >>"$OUT/cleanup.log" 2>&1 </dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh start: stop what an earlier, interrupted run may have left, then wipe its state.
mkdir -p "$BSS_DEV_DIR"
"${DEVSTACK[@]}" clean >/dev/null 2>&1 </dev/null || true
rm -rf "$OUT"
mkdir -p "$OUT"
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
