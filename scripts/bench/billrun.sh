#!/usr/bin/env bash
# Bill-run benchmark: one cycle bill run (POST billRun) over N_ACCOUNTS active billing accounts with
# PRODUCTS_PER_ACCOUNT monthly recurring products each (100,000 products over 20,000 accounts by default):
# wall time, bills/s, peak RSS of the billing process — beside a plain PostgreSQL insert of the same number of
# rows the run wrote (applied_rate + customer_bill), measured in the same run on the same database, (a) as one
# INSERT … SELECT generate_series and (b) as one small transaction per account via pgbench at the same
# concurrency. Runs the customer and billing services on ports, a database and a Redis prefix of their own
# against the local PostgreSQL and Redis (scripts/devstack.sh infra-up). Not a test: numbers, plus a few sanity
# checks of the result.
#
#   scripts/bench/billrun.sh            # release build (default)
#   PROFILE=debug scripts/bench/billrun.sh
#   N_ACCOUNTS=20000 PRODUCTS_PER_ACCOUNT=5 BILLING_RUN_CONCURRENCY=4 OUT=docs/bench/billrun-result.txt …
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
N_ACCOUNTS=${N_ACCOUNTS:-20000}
PRODUCTS_PER_ACCOUNT=${PRODUCTS_PER_ACCOUNT:-5}
CONCURRENCY=${BILLING_RUN_CONCURRENCY:-4}
PROFILE=${PROFILE:-release}
CLIENTS=${CLIENTS:-16}
OUT=${OUT:-docs/bench/billrun-result.txt}
CUSTOMER_PORT=${BENCH_CUSTOMER_PORT:-18729}
BILLING_PORT=${BENCH_BILLING_PORT:-18778}
PRODUCTS=$((N_ACCOUNTS * PRODUCTS_PER_ACCOUNT))

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
say() { echo "bench: $*" >&2; }

bash scripts/devstack.sh infra-up >/dev/null
eval "$(bash scripts/devstack.sh env)"
t0=$(now)
if [[ $PROFILE == release ]]; then
  cargo build --release -q -p billing -p customer -p bss-dev
else
  cargo build -q -p billing -p customer -p bss-dev
fi
build_secs=$(secs "$t0" "$(now)")
BIN=target/$PROFILE

DB=bench_billrun_$(date +%Y%m%d%H%M%S)
PREFIX=bench-billrun-$$
ADMIN_URL=$DATABASE_URL
BENCH_URL="${DATABASE_URL%/*}/$DB"
psql "$ADMIN_URL" -qc "CREATE DATABASE $DB"

work=$(mktemp -d)
pids=()
sampler=
cleanup() {
  [[ -n $sampler ]] && kill "$sampler" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX:*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
  if [[ -n ${KEEP_LOGS:-} ]]; then say "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

export BIND_ADDRESS=127.0.0.1 DATABASE_URL=$BENCH_URL REDIS_KEY_PREFIX=$PREFIX RUST_LOG=${BENCH_RUST_LOG:-warn}
PORT=$CUSTOMER_PORT "$BIN/customer" >"$work/customer.log" 2>&1 &
pids+=($!)
PORT=$BILLING_PORT CUSTOMER_URL=http://127.0.0.1:$CUSTOMER_PORT BILLING_RUN_SCHEDULER=false \
  BILLING_RUN_CONCURRENCY=$CONCURRENCY "$BIN/billing" >"$work/billing.log" 2>&1 &
billing_pid=$!
pids+=("$billing_pid")
for port in $CUSTOMER_PORT $BILLING_PORT; do
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { say "service on $port never ready"; tail -20 "$work"/*.log >&2; exit 1; }
done
TOKEN=$("$BIN/bss-dev" token)
export TOKEN
q() { psql "$BENCH_URL" -XtAq -v ON_ERROR_STOP=1 -c "SET search_path = billing" -c "$1"; }

# 1. The customer and the billing accounts (concurrent POSTs; each one checks the customer in the customer service).
customer=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  "http://127.0.0.1:$CUSTOMER_PORT/tmf-api/customerManagement/v4/customer" \
  -d '{"name":"Bench customer","status":"Approved","engagedParty":{"id":"x","@referredType":"Individual"}}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
say "creating $N_ACCOUNTS billing accounts ($CLIENTS clients)"
t0=$(now)
python3 - "http://127.0.0.1:$BILLING_PORT" "$customer" "$N_ACCOUNTS" "$CLIENTS" >"$work/accounts.txt" <<'PY'
import json, os, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, customer, n, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
headers = {"Authorization": "Bearer " + os.environ["TOKEN"], "Content-Type": "application/json"}
def create(i):
    body = {"name": f"Bench account {i}", "currency": "EUR", "timeZone": "UTC", "taxRate": "0.20", "billCycleDay": 1,
            "relatedParty": [{"id": customer, "@referredType": "Customer", "role": "customer"}]}
    request = urllib.request.Request(url + "/tmf-api/accountManagement/v4/billingAccount",
                                     data=json.dumps(body).encode(), headers=headers, method="POST")
    for attempt in range(3):
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)["id"]
        except Exception as e:
            error = e
    raise SystemExit(f"account {i}: {error}")
with ThreadPoolExecutor(clients) as pool:
    for id in pool.map(create, range(n)):
        print(id)
PY
accounts_secs=$(secs "$t0" "$(now)")
[[ $(wc -l <"$work/accounts.txt") -eq $N_ACCOUNTS ]] || { say "not all accounts were created"; exit 1; }

# 2. One completed order per account with PRODUCTS_PER_ACCOUNT completed add items, 9.99 EUR a month each,
#    as the order service publishes it, pipelined into the stream in raw RESP.
python3 - "$PREFIX:events:order" "$customer" "$PRODUCTS_PER_ACCOUNT" "$work/accounts.txt" >"$work/events.resp" <<'PY'
import json, sys, uuid
stream, customer, per, accounts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
out = sys.stdout.buffer
def command(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
monthly = [{"name": "Monthly", "priceType": "recurring", "recurringChargePeriod": "month",
            "price": {"dutyFreeAmount": {"unit": "EUR", "value": 9.99}}}]
for line in open(accounts):
    account = line.strip()
    items = [{"id": str(i + 1), "action": "add", "state": "completed", "quantity": 1,
              "productOffering": {"id": "po-bench", "name": "Bench product"}, "itemPrice": monthly} for i in range(per)]
    order = {"id": str(uuid.uuid4()), "state": "completed", "productOrderItem": items, "billingAccount": {"id": account},
             "relatedParty": [{"id": customer, "role": "Customer", "@referredType": "Customer"}]}
    event_id = str(uuid.uuid4())
    payload = {"eventId": event_id, "eventTime": "2026-11-10T10:00:00Z", "eventType": "ProductOrderStateChangeEvent",
               "event": {"productOrder": order}}
    command("XADD", stream, "*", "eventId", event_id, "payload", json.dumps(payload, separators=(",", ":")))
PY
say "publishing $N_ACCOUNTS order events, waiting for $PRODUCTS billable products"
t0=$(now)
redis-cli -u "$REDIS_URL" --pipe <"$work/events.resp" >"$work/pipe.log"
grep -q "errors: 0, replies: $N_ACCOUNTS" "$work/pipe.log" || { say "XADD pipe: $(tail -1 "$work/pipe.log")"; exit 1; }
publish_secs=$(secs "$t0" "$(now)")
last=0 stalled=0
while :; do
  products=$(q "SELECT count(*) FROM billable_product")
  [[ $products -ge $PRODUCTS ]] && break
  if [[ $products -eq $last ]]; then stalled=$((stalled + 1)); else stalled=0; last=$products; fi
  [[ $stalled -ge 120 ]] && { say "ingestion stalled at $products products"; tail -20 "$work/billing.log" >&2; exit 1; }
  sleep 0.5
done
ingest_secs=$(secs "$t0" "$(now)")
ingest_hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$billing_pid/status")
q "VACUUM ANALYZE" >/dev/null

# 3. The bill run, with the billing process's RSS sampled every 0.5 s.
rss_before_kb=$(awk '/VmRSS/ {print $2}' "/proc/$billing_pid/status")
(while :; do awk '/VmRSS/ {print $2}' "/proc/$billing_pid/status"; sleep 0.5; done) >"$work/rss.txt" 2>/dev/null &
sampler=$!
say "bill run over $N_ACCOUNTS accounts (concurrency $CONCURRENCY)"
t0=$(now)
summary=$(curl -sS --max-time 3600 -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  "http://127.0.0.1:$BILLING_PORT/tmf-api/customerBillManagement/v4/billRun" -d '{"billDate":"2026-12-01"}')
run_secs=$(secs "$t0" "$(now)")
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; sampler=
run_peak_kb=$(sort -n "$work/rss.txt" | tail -1)
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$billing_pid/status")
say "summary: $summary"
issued=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("billsIssued", 0))' "$summary")

# 4. Sanity checks.
rates=$(q "SELECT count(*) FROM applied_rate")
bills=$(q "SELECT count(*) FROM customer_bill")
read -r billed_accounts bad_accounts distinct_no min_no max_no unbilled_rates <<<"$(q "SELECT
  (SELECT count(DISTINCT billing_account_id) FROM customer_bill),
  (SELECT count(*) FROM (SELECT 1 FROM customer_bill GROUP BY billing_account_id HAVING count(*) <> 1) x),
  count(DISTINCT bill_no), min(bill_no), max(bill_no),
  (SELECT count(*) FROM applied_rate WHERE bill_id IS NULL)
  FROM customer_bill" | tr '|' ' ')"
checks=()
check() { if eval "$2"; then checks+=("ok   $1"); else checks+=("FAIL $1"); fi; }
check "every account has exactly one bill ($billed_accounts accounts billed, $bad_accounts with <> 1 bill)" \
  "[[ $billed_accounts -eq $N_ACCOUNTS && $bad_accounts -eq 0 && $bills -eq $N_ACCOUNTS ]]"
check "applied_rate rows = $rates (expected $((PRODUCTS * 2)): Nov 10–30 prorated + December in advance), $unbilled_rates unbilled" \
  "[[ $rates -eq $((PRODUCTS * 2)) && $unbilled_rates -eq 0 ]]"
check "bill numbers unique and 1..$N_ACCOUNTS ($distinct_no distinct, min ${min_no:-none}, max ${max_no:-none})" \
  "[[ $distinct_no -eq $N_ACCOUNTS && ${min_no:-0} -eq 1 && ${max_no:-0} -eq $N_ACCOUNTS ]]"
check "billRun summary billsIssued = $issued" "[[ $issued -eq $N_ACCOUNTS ]]"
errors=$(grep -ciE '"level":"(ERROR|WARN)"|\b(ERROR|WARN)\b' "$work/billing.log" || true)

# 5. Baseline: the same number of rows (applied_rate + customer_bill) as a plain PostgreSQL insert, same database.
ROWS=$((rates + bills))
PER_TX=$(( rates / (bills > 0 ? bills : 1) ))
psql "$BENCH_URL" -XqA -v ON_ERROR_STOP=1 <<SQL
CREATE SCHEMA scratch;
CREATE TABLE scratch.rate (id uuid PRIMARY KEY, charge_key text NOT NULL UNIQUE, account_id text NOT NULL,
                           amount_minor bigint NOT NULL, chargeable_on date NOT NULL);
CREATE TABLE scratch.bill (id uuid PRIMARY KEY, account_id text NOT NULL, total_minor bigint NOT NULL,
                           bill_date date NOT NULL);
SQL
t0=$(now)
psql "$BENCH_URL" -XqA -v ON_ERROR_STOP=1 <<SQL
BEGIN;
INSERT INTO scratch.rate SELECT gen_random_uuid(), 'a:' || n, 'acct-' || (n % $N_ACCOUNTS), 999, DATE '2026-12-01'
  FROM generate_series(1, $rates) AS n;
INSERT INTO scratch.bill SELECT gen_random_uuid(), 'acct-' || n, 11988, DATE '2026-12-01' FROM generate_series(1, $bills) AS n;
COMMIT;
SQL
bulk_secs=$(secs "$t0" "$(now)")
psql "$BENCH_URL" -Xqc "TRUNCATE scratch.rate, scratch.bill"
{
  echo '\set a random(1, 1000000000)'
  echo 'BEGIN;'
  for i in $(seq "$PER_TX"); do
    echo "INSERT INTO scratch.rate VALUES (gen_random_uuid(), 'b:' || :client_id || ':' || :a || ':$i:' || clock_timestamp(), 'acct-' || :a, 999, DATE '2026-12-01');"
  done
  echo "INSERT INTO scratch.bill VALUES (gen_random_uuid(), 'acct-' || :a, 11988, DATE '2026-12-01');"
  echo 'END;'
} >"$work/tx.sql"
per_client=$(( (bills + CONCURRENCY - 1) / CONCURRENCY ))
t0=$(now)
pgbench -n -c "$CONCURRENCY" -j "$CONCURRENCY" -t "$per_client" -f "$work/tx.sql" "$BENCH_URL" >"$work/pgbench.log" 2>&1
tx_secs=$(secs "$t0" "$(now)")
tx_rows=$(psql "$BENCH_URL" -XtAc "SELECT (SELECT count(*) FROM scratch.rate) + (SELECT count(*) FROM scratch.bill)")

# 6. The table.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
dirty=$(git status --porcelain -- services/billing crates 2>/dev/null | grep -q . && echo ' (with uncommitted changes in services/billing or crates)' || true)
report=$(cat <<EOF
Bill-run benchmark — scripts/bench/billrun.sh
date: $(date -u +%Y-%m-%dT%H:%M:%SZ)   commit: $git_rev$dirty
machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr); PostgreSQL $(psql "$BENCH_URL" -XtAc 'SHOW server_version' | cut -d' ' -f1), local (devstack)
build profile: $PROFILE   BILLING_RUN_CONCURRENCY=$CONCURRENCY   accounts: $N_ACCOUNTS   products: $PRODUCTS ($PRODUCTS_PER_ACCOUNT per account)
noise: other work may have been running on the machine (shared 2 cores); treat numbers as ±20 %.

| phase | wall s | rate |
|---|---|---|
| cargo build ($PROFILE, incremental) | $build_secs | |
| create $N_ACCOUNTS billing accounts (POST, $CLIENTS clients) | $accounts_secs | $(per_s "$N_ACCOUNTS" "$accounts_secs") accounts/s |
| XADD $N_ACCOUNTS order events (redis-cli --pipe) | $publish_secs | |
| consume events → $PRODUCTS billable products (from first XADD) | $ingest_secs | $(per_s "$N_ACCOUNTS" "$ingest_secs") events/s, $(per_s "$PRODUCTS" "$ingest_secs") products/s |
| **bill run** POST billRun billDate 2026-12-01 | **$run_secs** | **$(per_s "$issued" "$run_secs") bills/s**, $(per_s "$rates" "$run_secs") rates/s |

billRun summary: $summary

| write of the same $ROWS rows ($rates applied_rate + $bills customer_bill) | wall s | rows/s | bill run ÷ this |
|---|---|---|---|
| bill run (rating, bill, tax, number, outbox; $CONCURRENCY at a time) | $run_secs | $(per_s "$ROWS" "$run_secs") | 1.0 |
| plain INSERT … SELECT generate_series, one transaction | $bulk_secs | $(per_s "$ROWS" "$bulk_secs") | $(ratio "$run_secs" "$bulk_secs") |
| $bills transactions of $PER_TX+1 single-row INSERTs (pgbench -c $CONCURRENCY, $tx_rows rows) | $tx_secs | $(per_s "$tx_rows" "$tx_secs") | $(ratio "$run_secs" "$tx_secs") |

billing RSS: $(mib "$rss_before_kb") MiB before the run, $(mib "${run_peak_kb:-0}") MiB peak sampled during the run (0.5 s), VmHWM $(mib "$ingest_hwm_kb") MiB after ingestion → $(mib "$hwm_kb") MiB after the run
billing log: $errors WARN/ERROR lines (RUST_LOG=$RUST_LOG)

sanity checks:
$(printf '  %s\n' "${checks[@]}")
EOF
)
echo "$report"
mkdir -p "$(dirname "$OUT")"
echo "$report" >"$OUT"
if [[ $errors -gt 0 ]]; then
  say "first WARN/ERROR lines of the billing log:"
  grep -iE 'ERROR|WARN' "$work/billing.log" | head -5 >&2
fi
