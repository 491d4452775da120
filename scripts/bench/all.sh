#!/usr/bin/env bash
# `make bench`: the standard load runs, written to docs/benchmarks.md.
#
# On a stack of its own (scripts/devstack.sh with BSS_DEV_DIR=.dev/bench, its own ports, release binaries,
# fresh data), one after the other, each for DURATION seconds at CONNECTIONS connections (wrk):
#   1. per operation of each service — reads and writes of its main resources — beside GET /health of the same
#      service (the baseline of the same run: the machine's noise cancels out in the ratio);
#   2. for each write, a plain PostgreSQL insert of the same rows (the resource row and its outbox event, as
#      the service writes them, into copies of its tables) with pgbench at the same concurrency;
#   3. the full scenario with the load generator (bss-load, LOAD_SECS at LOAD_CONCURRENCY journeys in flight),
#      its per-operation table and its invariant check;
#   4. memory: VmRSS of each service at idle (after start and seeding) and the peak sampled every 0.5 s under
#      load;
#   plus the bill-run figure measured by scripts/bench/billrun.sh (docs/bench/billrun-result.txt).
#
#   make bench                                  # ≈ 6 min after the release build
#   DURATION=5 LOAD_SECS=20 make bench          # shorter
#   SMOKE=1 bash scripts/bench/all.sh           # .ci/run: debug build, 2 s runs, report to a temporary file
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
# shellcheck source=scripts/bench/lib.sh
source "$REPO/scripts/bench/lib.sh"

SMOKE=${SMOKE:-0}
if [[ $SMOKE == 1 ]]; then
  PROFILE=${PROFILE:-debug} DURATION=${DURATION:-2} CONNECTIONS=${CONNECTIONS:-4}
  LOAD_SECS=${LOAD_SECS:-5} LOAD_CONCURRENCY=${LOAD_CONCURRENCY:-4}
fi
PROFILE=${PROFILE:-release}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
LOAD_SECS=${LOAD_SECS:-60}
LOAD_CONCURRENCY=${LOAD_CONCURRENCY:-16}
work=$(mktemp -d)
OUT=${OUT:-$([[ $SMOKE == 1 ]] && echo "$work/benchmarks.md" || echo docs/benchmarks.md)}
say() { echo "bench: $*" >&2; }

ensure_wrk
bash scripts/devstack.sh deps >/dev/null
command -v pgbench >/dev/null || bash scripts/devstack.sh apt-install postgresql-client >/dev/null

# Every port below the kernel's ephemeral range (32768 and up), so no outgoing connection can be holding one.
export BSS_DEV_DIR=$REPO/.dev/bench BSS_PG_PORT=${BENCH_PG_PORT:-27432} BSS_REDIS_PORT=${BENCH_REDIS_PORT:-27379}
export BSS_PORT_CATALOG=28620 BSS_PORT_CUSTOMER=28629 BSS_PORT_ORDER=28622 BSS_PORT_BILLING=28678
export BSS_BIN_DIR=$REPO/target/$PROFILE BSS_SKIP_BUILD=1 RUST_LOG=warn
DEVSTACK="bash scripts/devstack.sh"

say "building ($PROFILE)"
build_flags=(-q -p catalog -p customer -p order -p billing -p bss-load -p bss-dev)
[[ $PROFILE == release ]] && build_flags+=(--release)
cargo build "${build_flags[@]}"

sampler=
cleanup() {
  [[ -n $sampler ]] && kill "$sampler" 2>/dev/null
  $DEVSTACK clean >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
$DEVSTACK clean >/dev/null 2>&1 || true
say "starting the bench stack (.dev/bench)"
$DEVSTACK up >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
eval "$($DEVSTACK env)"
BIN=$BSS_BIN_DIR
TOKEN=$("$BIN/bss-dev" token)
export BSS_TOKEN=$TOKEN
pid_of() { cat "$BSS_DEV_DIR/pids/$1.pid"; }
rss_mib() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$(pid_of "$1")/status"; }
SERVICES=(catalog customer order billing)

CATALOG=$CATALOG_URL/tmf-api/productCatalogManagement/v4
CUSTOMERS=$CUSTOMER_URL/tmf-api/customerManagement/v4
ORDERS=$ORDER_URL/tmf-api/productOrderingManagement/v4
BILLS=$BILLING_URL/tmf-api/customerBillManagement/v4
ACCOUNTS=$BILLING_URL/tmf-api/accountManagement/v4
post() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' "$1" -d "$2"; }

# --- Seed: 50 active offerings (a full list page), a customer, an account, an order and its bill. -------------
say "seeding"
monthly=$(post "$CATALOG/productOfferingPrice" '{"name":"Monthly","lifecycleStatus":"Active","priceType":"recurring","recurringChargePeriodType":"month","price":{"unit":"EUR","value":30}}' | json_id)
setup=$(post "$CATALOG/productOfferingPrice" '{"name":"Setup","lifecycleStatus":"Active","priceType":"oneTime","price":{"unit":"EUR","value":49.99}}' | json_id)
for i in $(seq 1 50); do
  offering=$(post "$CATALOG/productOffering" "{\"name\":\"Offer $i\",\"lifecycleStatus\":\"Active\",\"productOfferingPrice\":[{\"id\":\"$monthly\"},{\"id\":\"$setup\"}]}" | json_id)
done
CUSTOMER_BODY='{"name":"Jane Doe","status":"Approved","engagedParty":{"id":"p-1","@referredType":"Individual"},"contactMedium":[{"mediumType":"Email","characteristic":{"emailAddress":"jane@example.com"}}]}'
customer=$(post "$CUSTOMERS/customer" "$CUSTOMER_BODY" | json_id)
ACCOUNT_BODY="{\"name\":\"Jane Doe main account\",\"currency\":\"EUR\",\"timeZone\":\"UTC\",\"taxRate\":\"0.20\",\"relatedParty\":[{\"id\":\"$customer\",\"@referredType\":\"Customer\",\"role\":\"customer\"}]}"
account=$(post "$ACCOUNTS/billingAccount" "$ACCOUNT_BODY" | json_id)
ORDER_BODY="{\"productOrderItem\":[{\"id\":\"1\",\"action\":\"add\",\"productOffering\":{\"id\":\"$offering\"}}],\"relatedParty\":[{\"id\":\"$customer\",\"role\":\"Customer\",\"@referredType\":\"Customer\"}],\"billingAccount\":{\"id\":\"$account\"}}"
order=$(post "$ORDERS/productOrder" "$ORDER_BODY" | json_id)
until [[ $(curl -sf -H "Authorization: Bearer $TOKEN" "$ORDERS/productOrder/$order" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])') == completed ]]; do sleep 0.2; done
sleep 1 # billing consumes the completion
post "$BILLS/billRun" "{\"billingAccount\":[{\"id\":\"$account\"}]}" >/dev/null

sleep 3
declare -A IDLE PEAK
for svc in "${SERVICES[@]}"; do IDLE[$svc]=$(rss_mib "$svc"); done

# --- wrk runs -------------------------------------------------------------------------------------------------
auth_lua=$work/get.lua
cat >"$auth_lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
post_lua "$work/customer.lua" "$CUSTOMER_BODY" "$TOKEN"
post_lua "$work/account.lua" "$ACCOUNT_BODY" "$TOKEN"
post_lua "$work/order.lua" "$ORDER_BODY" "$TOKEN"

rows=$work/rows.tsv # service, operation, kind, result ("rps p50 p99 non2xx"), baseline result
measure() { # measure SERVICE OPERATION KIND URL [wrk args]: the operation, then /health of the same service
  local svc=$1 name=$2 kind=$3 url=$4 base result health
  shift 4
  base=${url%%/tmf-api*}
  say "$svc: $name"
  result=$(run "$url" "$@")
  health=$(run "$base/health")
  printf '%s\t%s\t%s\t%s\t%s\n' "$svc" "$name" "$kind" "$result" "$health" >>"$rows"
}
measure catalog "GET productOffering?lifecycleStatus=Active&limit=20" read "$CATALOG/productOffering?lifecycleStatus=Active&limit=20" -s "$auth_lua"
measure catalog "GET productOffering/{id}" read "$CATALOG/productOffering/$offering" -s "$auth_lua"
measure customer "GET customer/{id}" read "$CUSTOMERS/customer/$customer" -s "$auth_lua"
measure customer "POST customer" write "$CUSTOMERS/customer" -s "$work/customer.lua"
measure billing "GET customerBill?billingAccount.id=…" read "$BILLS/customerBill?billingAccount.id=$account" -s "$auth_lua"
measure billing "POST billingAccount (customer checked in the customer service)" write "$ACCOUNTS/billingAccount" -s "$work/account.lua"
measure order "GET productOrder/{id}" read "$ORDERS/productOrder/$order" -s "$auth_lua"

# --- The scenario, with memory sampled -----------------------------------------------------------------------
(
  while :; do
    for svc in "${SERVICES[@]}"; do printf '%s %s\n' "$svc" "$(rss_mib "$svc")"; done
    sleep 0.5
  done
) >"$work/rss.txt" 2>/dev/null &
sampler=$!
say "scenario: bss-load for ${LOAD_SECS}s at $LOAD_CONCURRENCY journeys in flight"
load_rc=0
"$BIN/bss-load" --duration "$LOAD_SECS" --concurrency "$LOAD_CONCURRENCY" --json "$work/load.json" >"$work/load.txt" || load_rc=$?
cat "$work/load.txt" >&2
# The order POST last: each order it places is fulfilled and billed in the background afterwards.
measure order "POST productOrder (offering, prices, customer and account checked in their services)" write "$ORDERS/productOrder" -s "$work/order.lua"
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=
for svc in "${SERVICES[@]}"; do PEAK[$svc]=$(awk -v s="$svc" '$1 == s && $2 > m { m = $2 } END { print m + 0 }' "$work/rss.txt"); done

# --- PostgreSQL baseline: the same rows, inserted by pgbench into copies of the service's tables ----------------
pg_baseline() { # pg_baseline SCHEMA KIND ID → "tps p50 p99": the row of resource ID and its create event
  local schema=$1 kind=$2 id=$3 script=$work/insert-$2.sql
  psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -v schema="$schema" -v kind="$kind" -v id="$id" >"$script" <<'SQL'
DROP SCHEMA IF EXISTS bench_baseline CASCADE;
CREATE SCHEMA bench_baseline;
CREATE TABLE bench_baseline.tmf_resource (LIKE :"schema".tmf_resource INCLUDING ALL);
CREATE TABLE bench_baseline.outbox (LIKE :"schema".outbox INCLUDING ALL);
SELECT 'BEGIN;';
SELECT format('INSERT INTO bench_baseline.tmf_resource (kind, id, name, status, version, last_update, doc) VALUES (%L, gen_random_uuid()::text, %L, %L, %L, now(), %L::jsonb);',
              kind, name, status, version, doc)
  FROM :"schema".tmf_resource WHERE kind = :'kind' AND id = :'id';
SELECT format('INSERT INTO bench_baseline.outbox (event_id, event_type, resource_type, resource_id, payload) VALUES (gen_random_uuid(), %L, %L, %L, %L::jsonb);',
              event_type, resource_type, resource_id, payload)
  FROM :"schema".outbox WHERE resource_type = :'kind' AND resource_id = :'id' ORDER BY id LIMIT 1;
SELECT 'COMMIT;';
SQL
  grep -q '^INSERT INTO bench_baseline.outbox' "$script" || { say "no stored $kind $id to copy"; exit 1; }
  (cd "$work" && pgbench -n -f "$script" -c "$CONNECTIONS" -j 2 -T "$DURATION" -l --log-prefix="pgb-$kind" "$DATABASE_URL" >"$work/pgbench-$kind.txt" 2>&1) ||
    { cat "$work/pgbench-$kind.txt" >&2; exit 1; }
  local tps
  tps=$(awk '/^tps/ { printf "%.0f", $3 }' "$work/pgbench-$kind.txt")
  cat "$work"/pgb-"$kind".* | awk '{ print $3 }' | sort -n >"$work/lat-$kind.txt"
  rm -f "$work"/pgb-"$kind".*
  awk -v tps="$tps" '{ v[NR] = $1 } END { p50 = v[int(NR * 0.50 + 0.999)]; p99 = v[int(NR * 0.99 + 0.999)]; printf "%s %.2f %.2f\n", tps, p50 / 1000, p99 / 1000 }' "$work/lat-$kind.txt"
  psql "$DATABASE_URL" -qc "DROP SCHEMA bench_baseline CASCADE"
}
say "PostgreSQL baselines"
declare -A PG
PG[customer]=$(pg_baseline customer customer "$customer")
PG[billingAccount]=$(pg_baseline billing billingAccount "$account")
PG[productOrder]=$(pg_baseline ordering productOrder "$order")

# --- The report ---------------------------------------------------------------------------------------------------
cores=$(nproc)
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
pgv=$(psql "$DATABASE_URL" -qAt -c 'SHOW server_version')
{
  echo "# Benchmarks"
  echo
  echo "Generated by \`make bench\` (scripts/bench/all.sh) — do not edit by hand; run it again."
  echo
  echo "- date: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates services migrations || echo ' (with uncommitted changes)')"
  echo "- machine: $cores cores, $mem, $(uname -sr); PostgreSQL $pgv and Redis on the same machine (scripts/devstack.sh)"
  echo "- build: $PROFILE; each service as the local stack runs it (default settings, RUST_LOG=warn, FULFILMENT_MODE=auto)"
  echo "- wrk: 1 thread, $CONNECTIONS connections, ${DURATION}s per run; load generator and services share the machine's cores,"
  echo "  so absolute numbers are what this machine gives under its own load generator: read the **ratios**."
  echo
  echo "## Per operation, beside its baselines"
  echo
  echo "Each operation is followed, in the same run, by \`GET /health\` of the same service (no database, no"
  echo "authentication: what the HTTP stack alone gives). Each write is also compared with pgbench inserting the same rows"
  echo "(the resource row with its document, and its create event in the outbox, in one transaction, into copies of the"
  echo "service's tables with their indexes) at the same concurrency."
  echo
  echo "| service | operation | req/s | p50 ms | p99 ms | non-2xx | /health req/s | /health p50 / p99 ms | ÷ /health | PostgreSQL insert tx/s | insert p50 / p99 ms | ÷ insert |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r svc name kind result health; do
    read -r rps p50 p99 non2xx <<<"$result"
    read -r h_rps h_p50 h_p99 _ <<<"$health"
    pg="" pg_lat="" pg_ratio=""
    if [[ $kind == write ]]; then
      case $name in
        "POST customer") key=customer ;;
        "POST billingAccount"*) key=billingAccount ;;
        *) key=productOrder ;;
      esac
      read -r pg_tps pg_p50 pg_p99 <<<"${PG[$key]}"
      pg=$pg_tps pg_lat="$pg_p50 / $pg_p99"
      pg_ratio=$(awk -v a="$rps" -v b="$pg_tps" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
    fi
    ratio=$(awk -v a="$rps" -v b="$h_rps" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s |\n' "$svc" "$name" "$rps" "$p50" "$p99" "$non2xx" \
      "$h_rps" "$h_p50" "$h_p99" "$ratio" "$pg" "$pg_lat" "$pg_ratio"
  done <"$rows"
  echo
  echo "## The scenario (load generator)"
  echo
  echo "\`bss-load --duration $LOAD_SECS --concurrency $LOAD_CONCURRENCY\`: each journey browses the catalog (list, get),"
  echo "creates a customer and a billing account, orders a Fibre line and 1–3 TV options, cancels every tenth order once it"
  echo "is in progress, follows the order to its final state; final orders are billed in batches (\`POST billRun\`). Rates"
  echo "are per second over the load phase; \`journey.orderPlacedToFinal\` is not a request but the time from the order's"
  echo "201 to the journey seeing it final (automatic fulfilment)."
  echo
  python3 - "$work/load.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print("| operation | requests | errors | per s | p50 ms | p90 ms | p99 ms | max ms |")
print("|---|---|---|---|---|---|---|---|")
for op in report["operations"]:
    print(f"| {op['operation']} | {op['requests']} | {op['errors']} | {op['per_second']:.1f} | {op['p50_ms']:.1f} | {op['p90_ms']:.1f} | {op['p99_ms']:.1f} | {op['max_ms']:.1f} |")
v = report["verification"]
b = report["billRuns"]
outcomes = ", ".join(f"{k} {n}" for k, n in v["outcomes"].items())
print()
print(f"- {v['journeys']} journeys in {report['elapsedLoadSecs']:.0f} s ({v['journeys'] / report['elapsedLoadSecs']:.1f} journeys/s): {outcomes}")
print(f"- bill runs: {b['duringLoad']['bills_issued']} bills during the load, {b['final']['bills_issued']} at the final run; repeating every account's last run issued {b['repeated']['bills_issued']}")
print(f"- billing holds {v['bills']} bills with {v['rates']} charges for these accounts, {v['billed_tax_included_minor'] / 100:.2f} EUR tax included")
verdict = "**hold**" if report["passed"] else f"**{len(v['violations'])} violation(s)**"
print(f"- invariants (every completed order billed exactly once, nothing else charged, every bill adds up): {verdict}")
PY
  echo
  echo "## Memory"
  echo
  echo "| service | RSS idle MiB | RSS peak under load MiB |"
  echo "|---|---|---|"
  for svc in "${SERVICES[@]}"; do printf '| %s | %s | %s |\n' "$svc" "${IDLE[$svc]}" "${PEAK[$svc]}"; done
  echo
  echo "Idle: after start-up and seeding. Peak: the highest VmRSS sampled every 0.5 s during the scenario and the order POST run."
  echo
  echo "## Bill run"
  echo
  if [[ -f docs/bench/billrun-result.txt ]]; then
    echo "From \`scripts/bench/billrun.sh\` (its own run; not repeated by \`make bench\` because it takes minutes):"
    echo
    grep -E '^(date|machine|build profile):|^\| \*\*bill run|^\| (plain|[0-9]+ transactions|bill run \()' docs/bench/billrun-result.txt | sed 's/^/    /'
    echo
    echo "The full result, with its sanity checks: [docs/bench/billrun-result.txt](bench/billrun-result.txt)."
  else
    echo "Run \`scripts/bench/billrun.sh\` for the bill-run figure."
  fi
} >"$OUT"
say "wrote $OUT"
if [[ $SMOKE == 1 ]]; then
  cat "$OUT"
  rows_written=$(grep -c '^| ' "$OUT")
  ((rows_written >= 20)) || { say "smoke: the report has only $rows_written table rows"; exit 1; }
fi
((load_rc == 0)) || { say "the load generator reported a failure (exit $load_rc)"; exit 1; }
