#!/usr/bin/env bash
# test-stack-lifecycle.sh — end-to-end test of scripts/devstack.sh: up, up again, readiness, auth, down,
# and that nothing of the stack is left running.
#
# It uses its own state directory and ports, so it never disturbs the main dev stack:
#   BSS_DEV_DIR=<repo>/.dev/lifecycle-test, PostgreSQL 25532, Redis 26479, services 18620/18622/18629/18678.
# The directory is wiped at the start (a fresh cluster every run) and kept afterwards for its logs.
# Other settings of devstack.sh (BSS_BIN_DIR, BSS_SKIP_BUILD, BSS_READY_TIMEOUT...) pass through.
#
# Output: one "ok"/"not ok" line per check, then exactly "lifecycle: N passed, M failed".
# Exit status: 0 when every check passed.
set -uo pipefail # no -e: a failed check is counted, not fatal

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVSTACK=(bash "$REPO/scripts/devstack.sh")

# shellcheck source=lib/checks.sh
source "$REPO/scripts/lib/checks.sh"
use_private_stack lifecycle-test 25532 26479 186
SERVICES=(catalog customer order billing)
OFFERINGS_PATH=/tmf-api/productCatalogManagement/v4/productOffering
OUT=$REPO/.dev/lifecycle-test-output # devstack output of the last run, for diagnosis

# pid_alive PID: exists and is not a zombie (zombies are dead; some PID 1s never reap them).
pid_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# http_code PORT PATH [TOKEN]: status of GET, 000 when nothing answers.
http_code() {
  local port=$1 path=$2 token=${3:-} code
  if command -v curl >/dev/null; then
    local -a auth=()
    [[ -n $token ]] && auth=(-H "Authorization: Bearer $token")
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${auth[@]}" "http://127.0.0.1:$port$path") || true
  else
    local header=""
    [[ -n $token ]] && header="Authorization: Bearer $token"$'\r\n'
    # shellcheck disable=SC2016 # the inner script expands its own arguments
    code=$(timeout 10 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
      printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n" "$1" "$2" >&3
      read -r _ code _ <&3 && printf "%s" "$code"' "$port" "$path" "$header" 2>/dev/null) || true
  fi
  [[ $code =~ ^[0-9]{3}$ ]] || code=000
  echo "$code"
}

# devstack STEP ARGS...: run devstack.sh ARGS, its output in $OUT/STEP.log.
devstack() {
  local step=$1
  shift
  logged "$step" "${DEVSTACK[@]}" "$@"
}

service_pids() {
  local svc
  for svc in "${SERVICES[@]}"; do cat "$BSS_DEV_DIR/pids/$svc.pid" 2>/dev/null || echo none; done
}

# stack_pids: every pid this stack recorded: services, the postmaster, redis.
stack_pids() {
  local f
  for f in "$BSS_DEV_DIR"/pids/*.pid "$BSS_DEV_DIR/redis/redis.pid"; do
    [[ -f $f ]] && cat "$f"
  done
  f=$(readlink -f "$BSS_DEV_DIR/pg")/data/postmaster.pid
  [[ -f $f ]] && head -n1 "$f"
  return 0
}

# leftovers: live processes of this stack: by command line (dev dir path, pgrep -f when available),
# by environment marker (services, log followers), by recorded pid.
leftovers() {
  local pid pg_dir
  local -a found=()
  pg_dir=$(readlink -f "$BSS_DEV_DIR/pg" 2>/dev/null || echo "$BSS_DEV_DIR/pg")
  for pattern in "$BSS_DEV_DIR" "$pg_dir"; do
    if command -v pgrep >/dev/null; then
      for pid in $(pgrep -f -- "$pattern"); do found+=("$pid"); done
    else
      for pid in /proc/[0-9]*; do
        pid=${pid#/proc/}
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" && found+=("$pid")
      done
    fi
  done
  while IFS= read -r pid; do
    found+=("$pid")
  done < <(grep -lzxF -- "BSS_STACK_MARKER=$BSS_DEV_DIR" /proc/[0-9]*/environ 2>/dev/null |
    sed 's#^/proc/\([0-9]*\)/environ$#\1#')
  for pid in "${RECORDED_PIDS[@]}"; do found+=("$pid"); done
  for pid in $(printf '%s\n' "${found[@]}" | sort -un); do
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    pid_alive "$pid" && printf '%s(%s) ' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80)"
  done
  return 0
}

no_leftovers() {
  local left
  left=$(leftovers)
  [[ -z $left ]] || {
    echo "    still running: $left"
    return 1
  }
}

all_ready() {
  local svc port code bad=""
  for svc in "${SERVICES[@]}"; do
    port=BSS_PORT_${svc^^}
    code=$(http_code "${!port}" /ready)
    [[ $code == 200 ]] || bad+="$svc=$code "
  done
  [[ -z $bad ]] || {
    echo "    /ready not 200: $bad"
    return 1
  }
}

expect_code() { # expect_code WANT|!NOT PATH [TOKEN]
  local want=$1 code
  code=$(http_code "$BSS_PORT_CATALOG" "$2" "${3:-}")
  if [[ $want == !* ]]; then
    [[ $code != "${want#!}" && $code != 000 ]] || {
      echo "    got $code"
      return 1
    }
  else
    [[ $code == "$want" ]] || {
      echo "    got $code, want $want"
      return 1
    }
  fi
}

both_up_runs_reused() { # the second up restarted nothing
  [[ $PIDS_AFTER_UP1 != *none* ]] || {
    echo "    no service pids after the first up: $PIDS_AFTER_UP1"
    return 1
  }
  [[ $PIDS_AFTER_UP1 == "$(service_pids)" ]] || {
    echo "    pids changed: $PIDS_AFTER_UP1 -> $(service_pids)"
    return 1
  }
}

start_fresh_stack
RECORDED_PIDS=()
echo "lifecycle: stack in $BSS_DEV_DIR, devstack output in $OUT"

check "ports ${ALL_PORTS[*]} are free before the test" no_port_listens
check "devstack up" devstack up-1 up
PIDS_AFTER_UP1=$(service_pids)
check "devstack up again (harmless)" devstack up-2 up
check "second up left the running services alone" both_up_runs_reused
check "all four /ready return 200" all_ready
check "devstack status" devstack status status

TOKEN=$("${DEVSTACK[@]}" token 2>"$OUT/token.log" </dev/null) || TOKEN=""
check "devstack token prints a token" test -n "$TOKEN"
check "productOffering without a token is 401" expect_code 401 "$OFFERINGS_PATH"
check "productOffering with the token is not 401" expect_code '!401' "$OFFERINGS_PATH" "$TOKEN"

mapfile -t RECORDED_PIDS < <(stack_pids)
check "pids recorded for postgres, redis and the four services" test "${#RECORDED_PIDS[@]}" -eq 6

check "devstack down" devstack down-1 down
check "no process of the stack remains" no_leftovers
check "no port of the stack is listening" no_port_listens
check "devstack down again (harmless)" devstack down-2 down

echo "lifecycle: $PASSED passed, $FAILED failed"
((FAILED == 0))
