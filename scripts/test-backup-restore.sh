#!/usr/bin/env bash
# test-backup-restore.sh — end-to-end test of scripts/backup.sh and scripts/restore.sh against a real PostgreSQL.
#
# It works in scratch databases (test_backup_<random>, and …_empty) on the server of DATABASE_URL (`make test`
# exports the local stack's; without it the local PostgreSQL is started with `scripts/devstack.sh infra-up`).
# The DATABASE_URL role must be a superuser (the local stack's `bss` and CI's service container are). The
# scratch database gets the real schemas — every service's migrations (migrations/common, then
# migrations/<service>) applied in its schema (catalog, customer, ordering, billing), as the services apply
# them — and representative rows: TMF documents (JSONB) in every schema, outbox events with identity ids, /hub
# deliveries, audit records, billing's relational data (a product with its price snapshot, a bill run, an
# issued bill frozen by its triggers, its tax, applied rates, a payment, an on-demand request, a default
# account) and a probe table of awkward values (numeric with 38 digits, bigint limits, NaN, infinity, bytes,
# tabs, newlines, backslashes, quotes, empty string and NULL, arrays, intervals).
#
# The database is fingerprinted (every table's row count and md5 over its rows in order, every sequence's
# position, and the structure: columns, defaults, identities, constraints, indexes, triggers, functions,
# comments, privileges), and then:
#   backup.sh writes a verified archive (path on stdout, mode 0600, every schema and its data in it), refuses
#   to overwrite, leaves nothing behind when pg_dump fails, and names its default file backups/bss-<UTC>.dump;
#   the data is changed (updates, deletes past the bills' freeze triggers, inserts, a table dropped, a table
#   added, sequences advanced);
#   restore.sh refuses without --yes, without FILE, a truncated and a corrupted archive, fails on a lock held by
#   another session and on a GRANT to a missing role (half-way through) — each time leaving the database
#   exactly as it was;
#   restore.sh --yes brings the fingerprint back exactly (the table created after the backup goes, and is
#   named), the restored bill is still frozen, and a restore into a new, empty database gives the same
#   fingerprint.
# Scratch databases, the test role and the files are removed at the end, whatever happens.
#
# Output: one "ok"/"not ok" line per check, then "backup-restore: N passed, M failed". Exit 0 when all passed.
set -uo pipefail # no -e: a failed check is counted, not fatal

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=backup.sh
source "$REPO/scripts/backup.sh" # the bk_* helpers (connection, client lookup); sourcing runs nothing
set +e
BK_NAME=test-backup-restore

# shellcheck source=lib/checks.sh
source "$REPO/scripts/lib/checks.sh"
fatal() {
  echo "test-backup-restore: setup failed: $*" >&2
  echo "backup-restore: $PASSED passed, $((FAILED + 1)) failed"
  exit 1
}

# ----------------------------------------------------------------------------------------------------------
# Server, scratch names, clean-up
# ----------------------------------------------------------------------------------------------------------

if [[ -z ${DATABASE_URL:-} ]]; then
  bash "$REPO/scripts/devstack.sh" infra-up >/dev/null || fatal "scripts/devstack.sh infra-up failed"
  eval "$(bash "$REPO/scripts/devstack.sh" env)"
fi
ADMIN_URL=$DATABASE_URL
# The client programs backup.sh and restore.sh pick (in a subshell: bk_connection exports PGPASSWORD).
PG_CLIENT_BIN=$(
  set -e
  bk_connection
  bk_find_client
  echo "$PG_CLIENT_BIN"
) || fatal "no usable PostgreSQL at DATABASE_URL"
SERVER=$(
  bk_connection
  bk_redacted
)
PSQL=("$PG_CLIENT_BIN/psql" -X -q -A -t -w -v ON_ERROR_STOP=1)

# with_db URL NAME: URL with its database replaced by NAME (query parameters kept).
with_db() {
  local url=$1 name=$2 base query=""
  base=${url%%\?*}
  [[ $url == *\?* ]] && query="?${url#*\?}"
  printf '%s/%s%s\n' "${base%/*}" "$name" "$query"
}

SUFFIX=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
DB=test_backup_$SUFFIX
DB2=test_backup_${SUFFIX}_empty
ROLE=test_backup_${SUFFIX}_reader
URL=$(with_db "$ADMIN_URL" "$DB")
URL2=$(with_db "$ADMIN_URL" "$DB2")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bss-backup-test.XXXXXX")
LOCKER_PID=""
DEFAULT_FILE=""

admin() { "${PSQL[@]}" -d "$ADMIN_URL" "$@"; }
sql() { "${PSQL[@]}" -d "$URL" "$@"; }

cleanup() {
  if [[ -n $LOCKER_PID ]]; then kill "$LOCKER_PID" 2>/dev/null; fi
  if [[ -n $DEFAULT_FILE && -f $DEFAULT_FILE ]]; then rm -f "$DEFAULT_FILE"; fi
  admin -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" -c "DROP DATABASE IF EXISTS \"$DB2\" WITH (FORCE)" \
    -c "DROP ROLE IF EXISTS \"$ROLE\"" >/dev/null 2>&1 || echo "test-backup-restore: could not drop $DB, $DB2 or $ROLE" >&2
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "backup-restore: scratch database $DB on $SERVER, client programs $PG_CLIENT_BIN"
admin -c "CREATE DATABASE \"$DB\"" -c "CREATE DATABASE \"$DB2\"" -c "CREATE ROLE \"$ROLE\" NOLOGIN" >/dev/null ||
  fatal "cannot create the scratch databases and role (is the DATABASE_URL role a superuser?)"

# ----------------------------------------------------------------------------------------------------------
# The real schemas (migrations/) and representative data
# ----------------------------------------------------------------------------------------------------------

# migrate_sql SCHEMA DIR: the common migrations, then the service's, inside SCHEMA (as bss_common::db::migrate).
migrate_sql() {
  local schema=$1 dir=$2 f
  printf 'CREATE SCHEMA %s;\nSET search_path TO %s;\n' "$schema" "$schema"
  for f in "$REPO"/migrations/common/*.sql "$REPO/migrations/$dir"/*.sql; do
    printf '\\i %s\n' "$f"
  done
  printf 'RESET search_path;\n'
}
{
  migrate_sql catalog catalog
  migrate_sql customer customer
  migrate_sql ordering order
  migrate_sql billing billing
} >"$WORK/migrate.sql"
sql -f "$WORK/migrate.sql" >"$WORK/migrate.log" 2>&1 || {
  tail -n 20 "$WORK/migrate.log" >&2
  fatal "applying migrations/ to $DB failed"
}

# Unquoted here-document (for the role's name): \$ is a dollar and \\ a backslash for SQL.
sql >"$WORK/data.log" 2>&1 <<SQL || { tail -n 20 "$WORK/data.log" >&2; fatal "loading the test data failed"; }
-- TMF documents: one of each kind the services keep, plus bulk offerings so the archive has real data blocks.
INSERT INTO catalog.tmf_resource (kind, id, name, status, version, last_update, doc) VALUES
  ('productOffering', 'po-fibre', 'Fibre 1G — Ünïcødé ✓', 'Active', '1.0', '2026-12-03 10:11:12.123456+00',
   '{"id":"po-fibre","name":"Fibre 1G — Ünïcødé ✓","lifecycleStatus":"Active","isSellable":true,
     "@type":"ProductOffering","validFor":{"startDateTime":"2026-01-01T00:00:00.000001Z"},
     "productOfferingPrice":[{"id":"pop-1","href":"/x/pop-1"}],"note":"tab\there, newline\nthere, back\\\\slash, \"quoted\""}'),
  ('productOfferingPrice', 'pop-1', 'Monthly', 'Active', '1.0', '2026-12-03 10:11:12.999999+00',
   '{"id":"pop-1","priceType":"recurring","recurringChargePeriodType":"month",
     "price":{"unit":"EUR","value":19.99},"bigValue":12345678901234567890.12345678901234567890}');
INSERT INTO catalog.tmf_resource (kind, id, name, status, version, last_update, doc)
SELECT 'productOffering', 'bulk-' || i, 'Bulk offering ' || i, CASE WHEN i % 3 = 0 THEN 'Retired' ELSE 'Active' END,
       '1.' || i, timestamptz '2026-11-01 00:00:00+00' + i * interval '1 minute 0.000001 second',
       jsonb_build_object('id', 'bulk-' || i, 'name', 'Bulk offering ' || i, 'rank', i, 'price', i * 1.01,
                          'tags', jsonb_build_array('a', i, null, true), 'text', repeat(md5(i::text), 4))
FROM generate_series(1, 3000) AS i;
INSERT INTO catalog.export_content (job_id, content)
SELECT 'export-1', jsonb_agg(jsonb_build_object('n', i, 's', md5(i::text))) FROM generate_series(1, 500) AS i;

INSERT INTO customer.tmf_resource (kind, id, name, status, version, last_update, doc) VALUES
  ('customer', 'cust-1', 'Zoë O''Brien', 'Approved', NULL, '2026-12-01 08:00:00.000001+00',
   '{"id":"cust-1","name":"Zoë O''Brien","status":"Approved","contactMedium":[{"mediumType":"email",
     "characteristic":{"emailAddress":"zoe@example.org"}}],"characteristic":[{"name":"empty","value":""},
     {"name":"null","value":null},{"name":"unicode","value":"\u00e9\u4e2d\ud83d\ude00"}]}');

-- An order with an externalId: the unique index on ordering.order_customer_id(doc) is rebuilt at restore.
INSERT INTO ordering.tmf_resource (kind, id, name, status, version, last_update, doc) VALUES
  ('productOrder', 'ord-1', NULL, 'completed', NULL, '2026-12-02 09:30:00.5+00',
   '{"id":"ord-1","externalId":"EXT-1","state":"completed","relatedParty":[{"id":"cust-1","role":"Customer"}],
     "productOrderItem":[{"id":"1","action":"add","quantity":2,"itemPrice":[{"priceType":"recurring",
     "price":{"taxIncludedAmount":{"unit":"EUR","value":19.99}}}]}]}');
INSERT INTO ordering.order_idempotency_key (subject, key, fingerprint, order_id, created_at) VALUES
  ('local-developer', 'key-ord-1', '0123456789abcdef0123456789abcdef', 'ord-1', '2026-12-02 09:30:00.5+00');

-- Events, listeners, deliveries and audit records in every schema (identity columns advance their sequences).
DO \$\$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['catalog', 'customer', 'ordering', 'billing'] LOOP
    EXECUTE format(\$q\$
      INSERT INTO %1\$I.outbox (event_id, event_type, resource_type, resource_id, payload, created_at, published_at)
      SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'ThingCreateEvent', 'thing', 'id-' || i,
             jsonb_build_object('eventId', i, 'event', jsonb_build_object('n', i)),
             timestamptz '2026-12-03 00:00:00+00' + i * interval '1 ms',
             CASE WHEN i %% 2 = 0 THEN timestamptz '2026-12-03 01:00:00+00' END
      FROM generate_series(1, 50) AS i;
      INSERT INTO %1\$I.hub_listener (id, callback, query) VALUES ('l1', 'http://127.0.0.1:9/cb', 'eventType=X');
      INSERT INTO %1\$I.listener_delivery (outbox_id, listener_id, attempts, last_error)
      SELECT id, 'l1', id %% 3, CASE WHEN id %% 3 = 1 THEN 'HTTP 503' END FROM %1\$I.outbox WHERE id <= 10;
      INSERT INTO %1\$I.audit_log (occurred_at, category, actor, action, resource_type, resource_id, outcome, trace_id, detail)
      VALUES ('2026-12-03 02:00:00.000001+00', 'data_change', 'test-user', 'create', 'thing', 'id-1', 'success',
              '4bf92f3577b34da6a3ce929d0e0e4736', '{"scopes":["admin"]}'),
             ('2026-12-03 02:00:01+00', 'security', 'anonymous', 'denied', NULL, NULL, 'denied', NULL, 'null');
    \$q\$, s);
  END LOOP;
END
\$\$;

-- Billing: a product with its price snapshot, an issued bill (frozen by triggers) with its tax, rates and a
-- payment, a credit not billed yet, an on-demand request, a default account, a processed event.
INSERT INTO billing.tmf_resource (kind, id, name, status, version, last_update, doc) VALUES
  ('billingAccount', 'ba-1', 'Zoë main', 'active', NULL, '2026-12-01 00:00:00+00',
   '{"id":"ba-1","name":"Zoë main","state":"active","billCycleDay":1,"currency":"EUR","timeZone":"Europe/Paris"}');
INSERT INTO billing.default_billing_account (customer_id, currency, billing_account_id) VALUES ('cust-1', 'EUR', 'ba-1');
INSERT INTO billing.processed_event (event_id, processed_at) VALUES ('11111111-1111-4111-8111-111111111111', '2026-12-02 09:30:01+00');
INSERT INTO billing.billable_product (id, order_id, order_item_id, customer_id, billing_account_id, product_offering_id,
                                      product_offering_name, quantity, state, start_date, end_date) VALUES
  ('22222222-2222-4222-8222-222222222222', 'ord-1', '1', 'cust-1', 'ba-1', 'po-fibre', 'Fibre 1G — Ünïcødé ✓', 2,
   'terminated', '2026-11-15', '2026-12-15');
INSERT INTO billing.billable_product_price (billable_product_id, position, name, price_type, recurring_charge_period,
                                            amount_minor, currency, product_offering_price_id) VALUES
  ('22222222-2222-4222-8222-222222222222', 0, 'Monthly', 'recurring', 'month', 1999, 'EUR', 'pop-1'),
  ('22222222-2222-4222-8222-222222222222', 1, 'Huge', 'oneTime', NULL, 9223372036854775807, 'EUR', NULL);
INSERT INTO billing.bill_run (id, billing_account_id, kind, period_start, period_end, as_of_date, state, created_at) VALUES
  ('33333333-3333-4333-8333-333333333333', 'ba-1', 'cycle', '2026-12-01', '2027-01-01', '2026-12-01', 'done',
   '2026-12-01 00:00:05.654321+00');
UPDATE billing.bill_number_counter SET last_number = 1;
INSERT INTO billing.customer_bill (id, bill_run_id, billing_account_id, customer_id, account_name, time_zone, run_type,
    category, state, bill_no, currency, period_start, period_end, bill_date, payment_due_date, tax_excluded_minor,
    tax_minor, tax_included_minor, amount_due_minor, paid_minor, remaining_minor, issued_at, last_update) VALUES
  ('44444444-4444-4444-8444-444444444444', '33333333-3333-4333-8333-333333333333', 'ba-1', 'cust-1', 'Zoë main',
   'Europe/Paris', 'onCycle', 'normal', 'partiallyPaid', 1, 'EUR', '2026-12-01', '2027-01-01', '2026-12-01',
   '2026-12-15', 5664, 1133, 6797, 6797, 1000, 5797, '2026-12-01 00:00:06+00', '2026-12-02 12:00:00.000001+00');
INSERT INTO billing.customer_bill_tax (bill_id, tax_rate_basis_points, taxable_minor, tax_minor) VALUES
  ('44444444-4444-4444-8444-444444444444', 2000, 5664, 1133);
INSERT INTO billing.applied_rate (id, charge_key, billable_product_id, billing_account_id, kind, name, amount_minor,
    currency, covers_start, covers_end, chargeable_on, bill_id, tax_rate_basis_points, tax_minor) VALUES
  ('55555555-5555-4555-8555-555555555551', 'product:2222/0:recurring:2026-12-01', '22222222-2222-4222-8222-222222222222',
   'ba-1', 'recurring', 'Monthly', 3998, 'EUR', '2026-12-01', '2027-01-01', '2026-12-01',
   '44444444-4444-4444-8444-444444444444', 2000, 800),
  ('55555555-5555-4555-8555-555555555552', 'product:2222/0:recurring:2026-11-15', '22222222-2222-4222-8222-222222222222',
   'ba-1', 'recurring', 'Monthly (prorated)', 1666, 'EUR', '2026-11-15', '2026-12-01', '2026-11-15',
   '44444444-4444-4444-8444-444444444444', 2000, 333),
  ('55555555-5555-4555-8555-555555555553', 'product:2222/0:credit:2026-12-15', '22222222-2222-4222-8222-222222222222',
   'ba-1', 'credit', 'Credit after termination', -2192, 'EUR', '2026-12-15', '2027-01-01', '2026-12-15', NULL, NULL, NULL);
INSERT INTO billing.bill_payment (id, bill_id, payment_ref, amount_minor, paid_at) VALUES
  ('66666666-6666-4666-8666-666666666666', '44444444-4444-4444-8444-444444444444', 'PSP-0001', 1000,
   '2026-12-02 12:00:00.000001+00');
INSERT INTO billing.bill_on_demand (id, billing_account_id, name, state, bill_id, request, created_at, last_update) VALUES
  ('77777777-7777-4777-8777-777777777777', 'ba-1', 'Now please', 'done', '44444444-4444-4444-8444-444444444444',
   '{"billingAccount":{"id":"ba-1"},"x-extension":{"deep":[1,2,{"k":"v"}]}}', '2026-12-02 00:00:00+00',
   '2026-12-02 00:00:01+00');

-- Awkward values in a table of our own (numeric money, limits, special values, escapes, arrays, bytes).
CREATE SCHEMA backup_probe;
CREATE TABLE backup_probe.ledger (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  amount numeric(38, 10),
  minor bigint,
  currency char(3) NOT NULL DEFAULT 'EUR',
  doc jsonb,
  note text,
  raw bytea,
  at timestamptz,
  day date,
  tags text[],
  span interval
);
COMMENT ON TABLE backup_probe.ledger IS 'probe of awkward values for the backup test';
INSERT INTO backup_probe.ledger (amount, minor, currency, doc, note, raw, at, day, tags, span) VALUES
  (1234567890123456789012345678.0123456789, 9223372036854775807, 'EUR', '{"a":{"b":[1,2.50,"x"]}}',
   E'tab\there\nnewline\\\\backslash "dq" ''sq''', '\x00ff0a5c', '2026-12-03 11:22:33.123456+00', '2026-02-28',
   ARRAY['a', NULL, 'c,d', E'e\\"f'], '1 year 2 mons 3 days 04:05:06.789'),
  (-0.0000000001, -9223372036854775808, 'JPY', '[]', '', '\x', 'infinity', 'infinity', '{}', '-1 day'),
  ('NaN', 0, 'USD', 'null', NULL, NULL, '-infinity', '-infinity', NULL, NULL);
CREATE TABLE backup_probe.dropped_later (k text PRIMARY KEY, v integer);
INSERT INTO backup_probe.dropped_later VALUES ('one', 1), ('two', 2);

-- Privileges naming a role (the restore fails half-way without it: the rollback check below).
GRANT USAGE ON SCHEMA billing TO "$ROLE";
GRANT SELECT ON billing.customer_bill TO "$ROLE";
SQL

# ----------------------------------------------------------------------------------------------------------
# Fingerprint
# ----------------------------------------------------------------------------------------------------------

# fingerprint URL: one line per table (row count, md5 of its rows in order), sequence and structural element.
fingerprint() {
  "${PSQL[@]}" -d "$1" <<'SQL'
\set user_schemas 'n.nspname !~ ''^pg_'' AND n.nspname <> ''information_schema'''
-- Data: every table, every row (a row's text form covers every column and type).
SELECT format('SELECT %L || count(*) || '' '' || md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) FROM %I.%I t',
              'rows ' || n.nspname || '.' || c.relname || ' ', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND :user_schemas ORDER BY n.nspname, c.relname
\gexec
SELECT format('SELECT %L || last_value || '' '' || is_called FROM %I.%I', 'seq ' || n.nspname || '.' || c.relname || ' ',
              n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND :user_schemas ORDER BY n.nspname, c.relname
\gexec
-- Structure.
SELECT 'schema ' || n.nspname || ' ' || coalesce(n.nspacl::text, '') || ' ' || coalesce(obj_description(n.oid, 'pg_namespace'), '')
FROM pg_namespace n WHERE :user_schemas ORDER BY 1;
SELECT 'column ' || n.nspname || '.' || c.relname || ' ' || a.attnum || ' ' || a.attname || ' '
       || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' ' || a.attidentity::text || ' '
       || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || coalesce(col_description(c.oid, a.attnum), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND :user_schemas ORDER BY 1;
SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '') || ' '
       || coalesce(obj_description(c.oid, 'pg_class'), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND :user_schemas ORDER BY 1;
SELECT 'constraint ' || n.nspname || '.' || c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE :user_schemas ORDER BY 1;
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE :user_schemas ORDER BY 1;
SELECT 'trigger ' || pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND :user_schemas ORDER BY 1;
SELECT 'function ' || n.nspname || '.' || p.proname || ' ' || md5(pg_get_functiondef(p.oid))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND :user_schemas ORDER BY 1;
SQL
}

# same_as FILE URL: URL's fingerprint equals the one in FILE (else the first differences are shown).
same_as() {
  local now
  now=$(mktemp "$WORK/fp.XXXXXX")
  fingerprint "$2" >"$now" 2>&1
  cmp -s "$1" "$now" && return 0
  diff "$1" "$now" | head -n 12 | sed 's/^/    | /'
  return 1
}

fingerprint "$URL" >"$WORK/fp-original" 2>&1 || fatal "fingerprint failed: $(tail -n 3 "$WORK/fp-original")"
tables=$(grep -c '^rows ' "$WORK/fp-original")
check "the scratch database has the services' schemas and data ($tables tables, $(grep -c '^seq ' "$WORK/fp-original") sequences, $(grep -c '^trigger ' "$WORK/fp-original") triggers)" \
  test "$tables" -ge 20
no_empty_table() { ! grep -E '^rows [^ ]+ 0 ' "$WORK/fp-original"; }
check "every table of the scratch database has rows" no_empty_table

# ----------------------------------------------------------------------------------------------------------
# Backup
# ----------------------------------------------------------------------------------------------------------

FILE=$WORK/bss.dump
out=$(DATABASE_URL=$URL bash "$REPO/scripts/backup.sh" "$FILE" 2>"$WORK/backup.log")
rc=$?
check "backup.sh exits 0" test "$rc" -eq 0 || sed 's/^/    | /' "$WORK/backup.log"
check "backup.sh prints the archive's path, and only that, on stdout" test "$out" == "$FILE"
check "the archive is mode 0600" test "$(stat -c %a "$FILE" 2>/dev/null)" == 600
TOC=$("$PG_CLIENT_BIN/pg_restore" --list "$FILE" 2>&1)
archive_complete() {
  local s t
  for s in catalog customer ordering billing backup_probe; do
    grep -qE "^[0-9]+; [0-9]+ [0-9]+ SCHEMA - $s " <<<"$TOC" || { echo "    | schema $s is not in the archive"; return 1; }
  done
  for t in "catalog tmf_resource" "ordering outbox" "billing customer_bill" "billing applied_rate" "backup_probe ledger"; do
    grep -qE " TABLE DATA $t " <<<"$TOC" || { echo "    | no data of ${t/ /.} in the archive"; return 1; }
  done
  grep -qE " SEQUENCE SET billing outbox_id_seq " <<<"$TOC" || { echo "    | no sequence position in the archive"; return 1; }
}
check "the archive holds every schema, its data and the sequence positions (pg_restore --list)" archive_complete
no_overwrite() { ! DATABASE_URL=$URL bash "$REPO/scripts/backup.sh" "$FILE" 2>/dev/null && cmp -s "$FILE" "$WORK/bss.dump"; }
check "backup.sh refuses to overwrite an existing file" no_overwrite
backup_fails_cleanly() {
  ! DATABASE_URL=$URL bash "$REPO/scripts/backup.sh" "$WORK/failed.dump" -- --table=no_such_table 2>/dev/null &&
    [[ ! -e $WORK/failed.dump ]] && ! compgen -G "$WORK/.bss-backup.*" >/dev/null
}
check "a failing pg_dump leaves neither the archive nor a temporary file" backup_fails_cleanly
DEFAULT_FILE=$(DATABASE_URL=$URL bash "$REPO/scripts/backup.sh" 2>/dev/null)
default_name() { [[ $DEFAULT_FILE =~ ^$REPO/backups/bss-[0-9]{8}T[0-9]{6}Z\.dump$ && -s $DEFAULT_FILE ]]; }
check "backup.sh without FILE writes backups/bss-<UTC yyyymmddThhmmssZ>.dump" default_name
[[ -n $DEFAULT_FILE && -f $DEFAULT_FILE ]] && rm -f "$DEFAULT_FILE"
DEFAULT_FILE=""

# ----------------------------------------------------------------------------------------------------------
# Change the data
# ----------------------------------------------------------------------------------------------------------

sql >"$WORK/mutate.log" 2>&1 <<'SQL' || { tail -n 20 "$WORK/mutate.log" >&2; fatal "changing the data failed"; }
UPDATE catalog.tmf_resource SET name = 'changed', doc = jsonb_set(doc, '{name}', '"changed"') WHERE id = 'po-fibre';
DELETE FROM catalog.tmf_resource WHERE id LIKE 'bulk-1%';
INSERT INTO customer.tmf_resource (kind, id, last_update, doc) VALUES ('customer', 'cust-2', now(), '{"id":"cust-2"}');
INSERT INTO ordering.outbox (event_id, event_type, resource_type, resource_id, payload)
  VALUES (gen_random_uuid(), 'X', 'x', 'x', '{}');
DELETE FROM ordering.outbox WHERE event_type = 'X';
DELETE FROM catalog.audit_log;
-- The bills' triggers forbid this; a mistake would have to get past them, as this does.
SET session_replication_role = replica;
DELETE FROM billing.bill_payment;
UPDATE billing.customer_bill SET paid_minor = 0, tax_minor = 0, tax_included_minor = tax_excluded_minor,
  amount_due_minor = tax_excluded_minor, remaining_minor = tax_excluded_minor;
DELETE FROM billing.applied_rate WHERE kind = 'credit';
RESET session_replication_role;
UPDATE billing.bill_number_counter SET last_number = 41;
UPDATE backup_probe.ledger SET amount = amount + 1 WHERE amount <> 'NaN';
DROP TABLE backup_probe.dropped_later;
CREATE TABLE backup_probe.created_after (x integer);
SQL
fingerprint "$URL" >"$WORK/fp-changed" 2>&1
changed() { ! cmp -s "$WORK/fp-original" "$WORK/fp-changed"; }
check "the changes show in the fingerprint" changed

# ----------------------------------------------------------------------------------------------------------
# Restores that must fail and change nothing
# ----------------------------------------------------------------------------------------------------------

# restore_fails DESCRIPTION MESSAGE-REGEX [VAR=VALUE...] -- RESTORE-ARGS...: restore.sh (stdin not a terminal)
# exits non-zero, its output matches MESSAGE-REGEX, and the fingerprint is what it was before.
restore_fails() {
  local what=$1 expect=$2
  shift 2
  local -a envs=()
  while [[ $1 != -- ]]; do
    envs+=("$1")
    shift
  done
  shift
  local before log rc
  before=$(mktemp "$WORK/fp.XXXXXX")
  log=$(mktemp "$WORK/restore.XXXXXX")
  fingerprint "$URL" >"$before" 2>&1
  env DATABASE_URL="$URL" "${envs[@]}" bash "$REPO/scripts/restore.sh" "$@" </dev/null >"$log" 2>&1
  rc=$?
  check "$what: restore.sh fails" test "$rc" -ne 0
  check "$what: it says why" grep -qE "$expect" "$log" || tail -n 8 "$log" | sed 's/^/    | /'
  check "$what: the database is unchanged" same_as "$before" "$URL"
}

restore_fails "without --yes, no terminal" "refusing to replace database .* without --yes" -- "$FILE"
restore_fails "without FILE" "which archive" -- --yes

size=$(stat -c %s "$FILE")
head -c $((size * 2 / 3)) "$FILE" >"$WORK/truncated.dump"
restore_fails "an archive cut at 2/3" "not a complete pg_dump custom-format archive" -- --yes "$WORK/truncated.dump"
head -c 100 "$FILE" >"$WORK/truncated-toc.dump"
restore_fails "an archive cut inside its table of contents" "not a complete pg_dump custom-format archive" \
  -- --yes "$WORK/truncated-toc.dump"
cp "$FILE" "$WORK/corrupt.dump"
# 512 bytes of 0xff in the middle of the file (the compressed rows of the bulk offerings).
head -c 512 /dev/zero | tr '\0' '\377' | dd of="$WORK/corrupt.dump" bs=1 seek=$((size / 2)) conv=notrunc status=none
restore_fails "an archive with 512 corrupt bytes" "not a complete pg_dump custom-format archive" -- --yes "$WORK/corrupt.dump"

# A session holding a lock (as a running service's transaction would) makes the restore time out and roll back.
PGAPPNAME=bss-backup-test-locker "${PSQL[@]}" -d "$URL" \
  -c "BEGIN; LOCK TABLE billing.customer_bill IN ACCESS SHARE MODE; SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1 &
LOCKER_PID=$!
locked() {
  [[ $(sql -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
               WHERE a.application_name = 'bss-backup-test-locker' AND l.relation = 'billing.customer_bill'::regclass") == 1 ]]
}
for _ in $(seq 1 100); do locked && break || sleep 0.1; done
check "another session holds a lock on billing.customer_bill" locked
restore_fails "a lock held by another session" "lock timeout" BSS_RESTORE_LOCK_TIMEOUT=1s -- --yes "$FILE"
sql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bss-backup-test-locker'" >/dev/null
wait "$LOCKER_PID" 2>/dev/null
LOCKER_PID=""

# A GRANT to a role the server no longer has fails near the end of the restore: the single transaction must undo
# every drop, create and load before it.
sql -c "REVOKE ALL ON billing.customer_bill FROM \"$ROLE\"" -c "REVOKE ALL ON SCHEMA billing FROM \"$ROLE\"" >/dev/null
admin -c "DROP ROLE \"$ROLE\"" >/dev/null
restore_fails "a GRANT to a missing role (fails half-way)" "role .* does not exist" -- --yes "$FILE"
admin -c "CREATE ROLE \"$ROLE\" NOLOGIN" >/dev/null

# ----------------------------------------------------------------------------------------------------------
# Restores that must bring the backup back
# ----------------------------------------------------------------------------------------------------------

DATABASE_URL=$URL bash "$REPO/scripts/restore.sh" --yes "$FILE" </dev/null >"$WORK/restore.log" 2>&1
rc=$?
check "restore.sh --yes exits 0" test "$rc" -eq 0 || tail -n 8 "$WORK/restore.log" | sed 's/^/    | /'
check "restore.sh names the table created after the backup, which goes with its schema" \
  grep -q "not in the archive, dropped with their schema: backup_probe.created_after" "$WORK/restore.log"
check "every row, sequence position and object is back exactly as backed up" same_as "$WORK/fp-original" "$URL"
bill_frozen() { ! sql -c "DELETE FROM billing.customer_bill" >/dev/null 2>&1; }
check "the restored bill is still frozen by its trigger" bill_frozen

DATABASE_URL=$URL2 bash "$REPO/scripts/restore.sh" --yes "$FILE" </dev/null >"$WORK/restore-empty.log" 2>&1
rc=$?
check "restore.sh --yes into a new, empty database exits 0" test "$rc" -eq 0 ||
  tail -n 8 "$WORK/restore-empty.log" | sed 's/^/    | /'
check "the new database has every row, sequence position and object of the backup" same_as "$WORK/fp-original" "$URL2"

echo "backup-restore: $PASSED passed, $FAILED failed"
((FAILED == 0))
