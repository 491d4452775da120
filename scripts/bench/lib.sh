#!/usr/bin/env bash
# Shared pieces of the benchmark scripts: the wrk runner, unit conversion and JSON id extraction.
# Sourced, not run.

# run URL [wrk args…] → "req/s p50_ms p99_ms non2xx"  (uses DURATION and CONNECTIONS)
run() {
  local out rps p50 p99 errors
  out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${@:2}" "$1")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${errors:-0}"
}

# wrk prints 1.23ms, 850.00us or 1.02s
to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

# The "id" of a JSON document on stdin.
json_id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }

# A Markdown row: NAME RESULT BASELINE_RPS
row() {
  local rps p50 p99 errors ratio
  read -r rps p50 p99 errors <<<"$2"
  ratio=$(awk -v a="$rps" -v b="$3" 'BEGIN { printf "%.2f", a / b }')
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "$errors" "$ratio"
}

ensure_wrk() {
  command -v wrk >/dev/null || { [[ $EUID -eq 0 ]] && apt-get install -y -qq wrk >/dev/null; } || {
    echo "bench: wrk is needed (apt-get install wrk)" >&2
    exit 1
  }
}

# post_lua FILE BODY TOKEN: a wrk script that POSTs the JSON BODY with a bearer TOKEN.
post_lua() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $3"
LUA
}
