#!/usr/bin/env bash
# Catalog benchmark: GET productOffering/{id} (cache hit path), a filtered list page, POST productOffering,
# each beside GET /health of the same process measured in the same run (the machine's noise cancels out in the
# ratio). Runs a release build of the catalog against the local PostgreSQL and Redis (scripts/devstack.sh
# infra-up), seeds 10,000 offerings, and prints a Markdown table. Not a test: numbers, no assertions.
#
#   scripts/bench/catalog.sh [DURATION_SECS=15] [CONNECTIONS=16]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
DURATION=${1:-15}
CONNECTIONS=${2:-16}
PORT=${BENCH_PORT:-18620}
BASE=/tmf-api/productCatalogManagement/v4
URL="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { [[ $EUID -eq 0 ]] && apt-get install -y -qq wrk >/dev/null; } || {
  echo "bench: wrk is needed (apt-get install wrk)" >&2
  exit 1
}
bash scripts/devstack.sh infra-up >/dev/null
eval "$(bash scripts/devstack.sh env)"
cargo build --release -q -p catalog -p bss-dev

# A database of its own, so the numbers do not depend on what the dev stack holds.
DB=bench_catalog
psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
BENCH_DATABASE_URL="${DATABASE_URL%/*}/$DB"

log=$(mktemp)
PORT=$PORT BIND_ADDRESS=127.0.0.1 DATABASE_URL=$BENCH_DATABASE_URL REDIS_KEY_PREFIX=bench RUST_LOG=warn \
  target/release/catalog >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log" "$post_lua"' EXIT
until curl -sf "$URL/ready" >/dev/null; do sleep 0.1; done

TOKEN=$(target/release/bss-dev token)
auth=(-H "Authorization: Bearer $TOKEN")
price=$(curl -sf "${auth[@]}" -H 'content-type: application/json' "$URL$BASE/productOfferingPrice" \
  -d '{"name":"Monthly","lifecycleStatus":"Active","priceType":"recurring","recurringChargePeriodType":"month","price":{"unit":"EUR","value":30}}')
json_id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
price_id=$(json_id <<<"$price")
offering=$(curl -sf "${auth[@]}" -H 'content-type: application/json' "$URL$BASE/productOffering" \
  -d "{\"name\":\"Fibre 1G\",\"lifecycleStatus\":\"Active\",\"productOfferingPrice\":[{\"id\":\"$price_id\"}]}")
offering_id=$(json_id <<<"$offering")
psql "$BENCH_DATABASE_URL" -qc "SET search_path = catalog" -c "
  WITH o AS (SELECT n, CASE n % 20 WHEN 0 THEN 'Active' WHEN 1 THEN 'Launched' ELSE 'Retired' END AS status
             FROM generate_series(1, 10000) AS n)
  INSERT INTO tmf_resource (kind, id, name, status, version, last_update, doc)
  SELECT 'productOffering', 'seed-' || n, 'Offer ' || n, status, '1', now() - make_interval(secs => n),
         jsonb_build_object('id', 'seed-' || n, 'href', '$BASE/productOffering/seed-' || n, 'name', 'Offer ' || n,
                            'lifecycleStatus', status, '@type', 'ProductOffering')
  FROM o" -c "VACUUM ANALYZE tmf_resource"

post_lua=$(mktemp --suffix=.lua)
cat >"$post_lua" <<LUA
wrk.method = "POST"
wrk.body = '{"name":"Bench offering","lifecycleStatus":"In design","validFor":{"startDateTime":"2026-01-01T00:00:00Z"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA

# run NAME URL [wrk args…] → "rps p50_ms p99_ms non2xx"
run() {
  local out
  out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${@:2}" "$1")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${errors:-0}"
}
to_ms() { # wrk prints 1.23ms, 850.00us or 1.02s
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

echo "bench: warming up" >&2
wrk -t1 -c4 -d3s "$URL$BASE/productOffering/$offering_id" -H "Authorization: Bearer $TOKEN" >/dev/null

declare -A result
result[health]=$(run "$URL/health")
result[get]=$(run "$URL$BASE/productOffering/$offering_id" -H "Authorization: Bearer $TOKEN")
result[list]=$(run "$URL$BASE/productOffering?lifecycleStatus=Active&sort=-lastUpdate&limit=20" -H "Authorization: Bearer $TOKEN")
result[post]=$(run "$URL$BASE/productOffering" -s "$post_lua")
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")

read -r h_rps _ <<<"${result[health]}"
printf '\n| operation (%s connections, %ss each) | req/s | p50 ms | p99 ms | non-2xx | req/s vs /health |\n' "$CONNECTIONS" "$DURATION"
printf '|---|---|---|---|---|---|\n'
for op in health get list post; do
  read -r rps p50 p99 errors <<<"${result[$op]}"
  ratio=$(awk -v a="$rps" -v b="$h_rps" 'BEGIN { printf "%.2f", a / b }')
  case $op in
    health) name="GET /health (baseline)" ;;
    get) name="GET productOffering/{id} (cached)" ;;
    list) name="GET productOffering?lifecycleStatus=Active&sort=-lastUpdate&limit=20 (of 10,001)" ;;
    post) name="POST productOffering" ;;
  esac
  printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99" "$errors" "$ratio"
done
printf '\npeak RSS of the catalog: %s MiB\n' "$((rss_kb / 1024))"
