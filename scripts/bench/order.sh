#!/usr/bin/env bash
# Order benchmark: POST productOrder with two priced items, end to end — the order service checks each
# offering and its prices in the catalog and the customer in the customer service (release builds of all
# three, caches warm) — beside GET /health of the order service measured in the same run.
#
#   scripts/bench/order.sh [DURATION_SECS=15] [CONNECTIONS=16]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
DURATION=${1:-15}
CONNECTIONS=${2:-16}
# shellcheck source=scripts/bench/lib.sh
source "$REPO/scripts/bench/lib.sh"
ensure_wrk
bash scripts/devstack.sh infra-up >/dev/null
eval "$(bash scripts/devstack.sh env)"
cargo build --release -q -p catalog -p customer -p order -p bss-dev

DB=bench_order
psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="${DATABASE_URL%/*}/$DB" REDIS_KEY_PREFIX=bench-order RUST_LOG=warn BIND_ADDRESS=127.0.0.1
export CATALOG_URL=http://127.0.0.1:18620 CUSTOMER_URL=http://127.0.0.1:18629 BILLING_URL=http://127.0.0.1:9
export FULFILMENT_MODE=external

pids=()
logs=$(mktemp -d)
post_lua=$(mktemp --suffix=.lua)
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$logs" "$post_lua"' EXIT
for service in catalog:18620 customer:18629 order:18622; do
  PORT=${service#*:} "target/release/${service%:*}" >"$logs/${service%:*}.log" 2>&1 &
  pids+=($!)
done
for port in 18620 18629 18622; do
  until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do sleep 0.1; done
done

TOKEN=$(target/release/bss-dev token)
post() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' "$1" -d "$2"; }
CATALOG=$CATALOG_URL/tmf-api/productCatalogManagement/v4
monthly=$(post "$CATALOG/productOfferingPrice" '{"name":"Monthly","lifecycleStatus":"Active","priceType":"recurring","recurringChargePeriodType":"month","price":{"unit":"EUR","value":30}}' | json_id)
setup=$(post "$CATALOG/productOfferingPrice" '{"name":"Setup","lifecycleStatus":"Active","priceType":"oneTime","price":{"unit":"EUR","value":49.99}}' | json_id)
fibre=$(post "$CATALOG/productOffering" "{\"name\":\"Fibre 1G\",\"lifecycleStatus\":\"Active\",\"productOfferingPrice\":[{\"id\":\"$monthly\"},{\"id\":\"$setup\"}]}" | json_id)
tv=$(post "$CATALOG/productOffering" "{\"name\":\"TV\",\"lifecycleStatus\":\"Active\",\"productOfferingPrice\":[{\"id\":\"$monthly\"}]}" | json_id)
customer=$(post "$CUSTOMER_URL/tmf-api/customerManagement/v4/customer" '{"name":"Jane Doe","status":"Approved","engagedParty":{"id":"p-1","@referredType":"Individual"}}' | json_id)
ORDERS=http://127.0.0.1:18622/tmf-api/productOrderingManagement/v4/productOrder
body="{\"productOrderItem\":[{\"id\":\"1\",\"action\":\"add\",\"productOffering\":{\"id\":\"$fibre\"}},{\"id\":\"2\",\"action\":\"add\",\"productOffering\":{\"id\":\"$tv\"}}],\"relatedParty\":[{\"id\":\"$customer\",\"role\":\"Customer\",\"@referredType\":\"Customer\"}]}"
post "$ORDERS" "$body" >/dev/null # warms the caches and proves the body is accepted

post_lua "$post_lua" "$body" "$TOKEN"

health=$(run "http://127.0.0.1:18622/health")
orders=$(run "$ORDERS" -s "$post_lua")
read -r h_rps _ <<<"$health"
printf '\n| operation (%s connections, %ss each) | req/s | p50 ms | p99 ms | non-2xx | req/s vs /health |\n' "$CONNECTIONS" "$DURATION"
printf '|---|---|---|---|---|---|\n'
row "GET /health of order (baseline)" "$health" "$h_rps"
row "POST productOrder, 2 priced items (each: 2 offerings + their prices from the catalog, 1 customer)" "$orders" "$h_rps"
for pid in "${pids[@]}"; do
  printf 'peak RSS %s: %s MiB\n' "$(tr '\0' ' ' </proc/"$pid"/cmdline | xargs basename)" "$(( $(awk '/VmHWM/ {print $2}' "/proc/$pid/status") / 1024 ))"
done
