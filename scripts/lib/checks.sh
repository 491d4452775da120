# shellcheck shell=bash
# What the stack test scripts (test-stack-lifecycle.sh, test-sdk.sh, test-backup-restore.sh) share: counted
# checks printed one per line ("ok     - …" / "not ok - …"), and a private stack of their own beside the main
# one, on other ports, started fresh and left with nothing running. Sourcing defines functions and sets the
# counters; it starts nothing.

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

# check DESCRIPTION COMMAND...: one check; returns the command's outcome.
check() {
  local what=$1
  shift
  if "$@"; then
    pass "$what"
  else
    fail "$what"
    return 1
  fi
}

# use_private_stack NAME PG_PORT REDIS_PORT PREFIX: the stack lives in .dev/NAME; each service listens on the
# main stack's port with PREFIX in front of its last two digits (PREFIX 186: catalog 18620, order 18622,
# customer 18629, billing 18678). Sets BSS_DEV_DIR, the port variables devstack.sh reads, and ALL_PORTS.
use_private_stack() {
  export BSS_DEV_DIR=$REPO/.dev/$1
  export BSS_PG_PORT=$2
  export BSS_REDIS_PORT=$3
  export BSS_PORT_CATALOG=${4}20
  export BSS_PORT_ORDER=${4}22
  export BSS_PORT_CUSTOMER=${4}29
  export BSS_PORT_BILLING=${4}78
  ALL_PORTS=("$BSS_PG_PORT" "$BSS_REDIS_PORT" "$BSS_PORT_CATALOG" "$BSS_PORT_ORDER" "$BSS_PORT_CUSTOMER"
    "$BSS_PORT_BILLING")
}

port_open() {
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

# no_port_listens: none of ALL_PORTS accepts a connection (the ones that do are printed).
no_port_listens() {
  local port busy=""
  for port in "${ALL_PORTS[@]}"; do port_open "$port" && busy+="$port "; done
  [[ -z $busy ]] || {
    echo "    still listening: $busy"
    return 1
  }
}

# logged STEP COMMAND...: run COMMAND with its output in $OUT/STEP.log; on failure show the log's tail.
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

# start_fresh_stack: stop and wipe what an earlier, interrupted run left in BSS_DEV_DIR, empty $OUT, and
# make sure that whatever happens from here on, the stack is stopped when the script exits.
start_fresh_stack() {
  mkdir -p "$BSS_DEV_DIR"
  bash "$REPO/scripts/devstack.sh" clean >/dev/null 2>&1 </dev/null || true
  rm -rf "$OUT"
  mkdir -p "$OUT"
  trap 'bash "$REPO/scripts/devstack.sh" down >>"$OUT/cleanup.log" 2>&1 </dev/null || true' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
