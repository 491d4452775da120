#!/usr/bin/env bash
# Service benchmark: GET by id (the cache-hit path), a filtered list page and POST of the service's main
# resource, each beside GET /health of the same process measured in the same run (the machine's noise cancels
# out in the ratio). Runs a release build against the local PostgreSQL and Redis (scripts/devstack.sh
# infra-up), seeds 10,000 resources, and prints a Markdown table. Not a test: numbers, no assertions.
#
#   scripts/bench/service.sh catalog|customer [DURATION_SECS=15] [CONNECTIONS=16]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
SERVICE=${1:?usage: scripts/bench/service.sh catalog|customer [DURATION_SECS] [CONNECTIONS]}
DURATION=${2:-15}
CONNECTIONS=${3:-16}
PORT=${BENCH_PORT:-18620}
URL="http://127.0.0.1:$PORT"
case $SERVICE in
  catalog)
    BASE=/tmf-api/productCatalogManagement/v4
    RESOURCE=productOffering
    LIST_QUERY='lifecycleStatus=Active&sort=-lastUpdate&limit=20'
    POST_BODY='{"name":"Bench offering","lifecycleStatus":"In design","validFor":{"startDateTime":"2026-01-01T00:00:00Z"}}'
    STATUS_ATTRIBUTE=lifecycleStatus
    ;;
  customer)
    BASE=/tmf-api/customerManagement/v4
    RESOURCE=customer
    LIST_QUERY='status=Approved&sort=-lastUpdate&limit=20'
    POST_BODY='{"name":"Bench customer","engagedParty":{"id":"p-1","@referredType":"Individual"},"contactMedium":[{"mediumType":"Email","characteristic":{"emailAddress":"bench@example.com"}},{"mediumType":"TelephoneNumber","characteristic":{"phoneNumber":"+44 20 7946 0958"}}]}'
    STATUS_ATTRIBUTE=status
    ;;
  *) echo "bench: unknown service $SERVICE (catalog or customer)" >&2; exit 2 ;;
esac

# shellcheck source=scripts/bench/lib.sh
source "$REPO/scripts/bench/lib.sh"
ensure_wrk
bash scripts/devstack.sh infra-up >/dev/null
eval "$(bash scripts/devstack.sh env)"
cargo build --release -q -p "$SERVICE" -p bss-dev

# A database of its own, so the numbers do not depend on what the dev stack holds.
DB=bench_$SERVICE
psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
BENCH_DATABASE_URL="${DATABASE_URL%/*}/$DB"

log=$(mktemp)
PORT=$PORT BIND_ADDRESS=127.0.0.1 DATABASE_URL=$BENCH_DATABASE_URL REDIS_KEY_PREFIX=bench RUST_LOG=warn \
  "target/release/$SERVICE" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log" "$post_lua"' EXIT
until curl -sf "$URL/ready" >/dev/null; do sleep 0.1; done

TOKEN=$(target/release/bss-dev token)
auth=(-H "Authorization: Bearer $TOKEN")
if [[ $SERVICE == catalog ]]; then
  price=$(curl -sf "${auth[@]}" -H 'content-type: application/json' "$URL$BASE/productOfferingPrice" \
    -d '{"name":"Monthly","lifecycleStatus":"Active","priceType":"recurring","recurringChargePeriodType":"month","price":{"unit":"EUR","value":30}}')
  target_body="{\"name\":\"Fibre 1G\",\"lifecycleStatus\":\"Active\",\"productOfferingPrice\":[{\"id\":\"$(json_id <<<"$price")\"}]}"
else
  target_body='{"name":"Jane Doe","status":"Approved","engagedParty":{"id":"p-1","@referredType":"Individual"},"contactMedium":[{"mediumType":"Email","characteristic":{"emailAddress":"jane@example.com"}}]}'
fi
target=$(curl -sf "${auth[@]}" -H 'content-type: application/json' "$URL$BASE/$RESOURCE" -d "$target_body")
target_id=$(json_id <<<"$target")
# 10,000 more, 5 % of them in the status the list filters on.
psql "$BENCH_DATABASE_URL" -qc "SET search_path = $SERVICE" -c "
  WITH r AS (SELECT n, CASE n % 20 WHEN 0 THEN 'Active' WHEN 1 THEN 'Approved' ELSE 'Retired' END AS status
             FROM generate_series(1, 10000) AS n)
  INSERT INTO tmf_resource (kind, id, name, status, version, last_update, doc)
  SELECT '$RESOURCE', 'seed-' || n, 'Seed ' || n, status, '1', now() - make_interval(secs => n),
         jsonb_build_object('id', 'seed-' || n, 'href', '$BASE/$RESOURCE/seed-' || n, 'name', 'Seed ' || n,
                            '$STATUS_ATTRIBUTE', status)
  FROM r" -c "VACUUM ANALYZE tmf_resource"

post_lua=$(mktemp --suffix=.lua)
post_lua "$post_lua" "$POST_BODY" "$TOKEN"

echo "bench: warming up" >&2
wrk -t1 -c4 -d3s "$URL$BASE/$RESOURCE/$target_id" -H "Authorization: Bearer $TOKEN" >/dev/null

declare -A result
result[health]=$(run "$URL/health")
result[get]=$(run "$URL$BASE/$RESOURCE/$target_id" -H "Authorization: Bearer $TOKEN")
result[list]=$(run "$URL$BASE/$RESOURCE?$LIST_QUERY" -H "Authorization: Bearer $TOKEN")
result[post]=$(run "$URL$BASE/$RESOURCE" -s "$post_lua")
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")

read -r h_rps _ <<<"${result[health]}"
printf '\n| operation (%s connections, %ss each) | req/s | p50 ms | p99 ms | non-2xx | req/s vs /health |\n' "$CONNECTIONS" "$DURATION"
printf '|---|---|---|---|---|---|\n'
row "GET /health (baseline)" "${result[health]}" "$h_rps"
row "GET $RESOURCE/{id} (cached)" "${result[get]}" "$h_rps"
row "GET $RESOURCE?$LIST_QUERY (of 10,001)" "${result[list]}" "$h_rps"
row "POST $RESOURCE" "${result[post]}" "$h_rps"
printf '\npeak RSS of %s: %s MiB\n' "$SERVICE" "$((rss_kb / 1024))"
