#!/usr/bin/env bash
# test-backup-restore.sh — scripts/backup.sh and scripts/restore.sh against the local PostgreSQL (make test runs
# it after the other suites; it starts the local PostgreSQL itself with scripts/devstack.sh infra-up).
#
# In a scratch database of its own (bkrt_<unique>; not test_*, which `make test` sweeps at start-up) it builds two
# schemas shaped like the services' (billing: bigint money, JSONB documents, a sequence and an identity column,
# an index, a foreign key; catalog: JSONB documents), fills them and takes a checksum of everything (md5 over
# every row in key order, row counts, sequence states, the table/column/index definitions). Then:
#   1. backup.sh writes a verified archive (mode 0600) and prints its path;
#   2. the data is changed, rows deleted and a table dropped; restore.sh --yes brings back the exact checksum;
#   3. restore.sh refuses without --yes or without FILE (exit 2) and changes nothing;
#   4. a truncated copy of the archive (cut inside the data, and cut inside the table of contents) fails to
#      restore and leaves the database exactly as it was (one transaction);
#   5. after a table was added to a schema of the archive, the plain restore refuses (unchanged) and
#      restore.sh --drop-schemas replaces the schemas (a truncated archive again changes nothing).
# The scratch database and the archives are removed on exit. Prints ok / not ok lines and a summary; exits 1
# when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

bash scripts/devstack.sh infra-up >/dev/null 2>&1 || {
  bash scripts/devstack.sh infra-up >&2 || true
  echo "not ok - the local PostgreSQL does not start (scripts/devstack.sh infra-up)"
  echo "backup-restore: 0 passed, 1 failed"
  exit 1
}
eval "$(bash scripts/devstack.sh env)"
ADMIN_URL=$DATABASE_URL
unset DATABASE_URL

PSQL=psql
for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
  if [[ -x $dir/psql ]]; then
    PSQL=$dir/psql
    break
  fi
done

DB=bkrt_$(date -u +%Y%m%d%H%M%S)_$$_${RANDOM}
base=${ADMIN_URL%%\?*}
SCRATCH_URL=${base%/*}/$DB
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bss-backup-test.XXXXXX")

cleanup() {
  local rc=$?
  "$PSQL" -X -q -w -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
    echo "warning: could not drop the scratch database $DB" >&2
  rm -rf -- "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0 failed=0
ok() {
  passed=$((passed + 1))
  echo "ok - $*"
}
not_ok() {
  failed=$((failed + 1))
  echo "not ok - $*"
}
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

sql() { "$PSQL" -X -q -A -t -w -v ON_ERROR_STOP=1 -d "$SCRATCH_URL" "$@"; }

# checksum: one line that changes when any row, sequence state or definition of the two schemas changes.
checksum() {
  sql 2>/dev/null <<'SQL' || echo unreadable
SELECT concat_ws(' ',
  (SELECT count(*) FROM billing.bill),
  (SELECT md5(coalesce(string_agg(b::text, '|' ORDER BY b.id), '')) FROM billing.bill b),
  (SELECT count(*) FROM billing.bill_line),
  (SELECT md5(coalesce(string_agg(l::text, '|' ORDER BY l.id), '')) FROM billing.bill_line l),
  (SELECT count(*) FROM billing.processed_event),
  (SELECT md5(coalesce(string_agg(e::text, '|' ORDER BY e.event_id), '')) FROM billing.processed_event e),
  (SELECT count(*) FROM catalog.product_offering),
  (SELECT md5(coalesce(string_agg(o::text, '|' ORDER BY o.id), '')) FROM catalog.product_offering o),
  (SELECT last_value || '/' || is_called FROM billing.bill_number_seq),
  (SELECT last_value || '/' || is_called FROM billing.bill_line_id_seq),
  (SELECT md5(string_agg(table_schema || '.' || table_name || '.' || column_name || ':' || data_type || ':'
                         || is_nullable || ':' || coalesce(column_default, ''), ','
                         ORDER BY table_schema, table_name, ordinal_position))
     FROM information_schema.columns WHERE table_schema IN ('billing', 'catalog')),
  (SELECT md5(string_agg(indexdef, ',' ORDER BY indexdef)) FROM pg_indexes
     WHERE schemaname IN ('billing', 'catalog')))
SQL
}

echo "# backup/restore round trip in scratch database $DB"

# ---------------------------------------------------------------------------------------------------------
# The scratch database, shaped like the services' schemas.
if ! "$PSQL" -X -q -w -v ON_ERROR_STOP=1 -d "$ADMIN_URL" -c "CREATE DATABASE \"$DB\"" >/dev/null; then
  not_ok "create the scratch database $DB"
  echo "backup-restore: $passed passed, $failed failed"
  exit 1
fi
if sql >/dev/null <<'SQL'; then ok "scratch schemas billing and catalog created and filled"; else not_ok "scratch schemas created and filled"; fi
BEGIN;
CREATE SCHEMA billing;
CREATE SCHEMA catalog;

CREATE SEQUENCE billing.bill_number_seq START WITH 100000 INCREMENT BY 7;
CREATE TABLE billing.bill (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bill_no       bigint NOT NULL UNIQUE DEFAULT nextval('billing.bill_number_seq'),
  account_id    text NOT NULL,
  amount_minor  bigint NOT NULL,           -- money in minor units
  tax_minor     bigint NOT NULL DEFAULT 0,
  currency      char(3) NOT NULL DEFAULT 'EUR',
  state         text NOT NULL CHECK (state IN ('new', 'issued', 'settled')),
  document      jsonb NOT NULL,
  issued_at     timestamptz NOT NULL
);
CREATE INDEX bill_account_idx ON billing.bill (account_id, issued_at);
CREATE INDEX bill_document_idx ON billing.bill USING gin (document jsonb_path_ops);

CREATE TABLE billing.bill_line (
  id            bigserial PRIMARY KEY,
  bill_id       bigint NOT NULL REFERENCES billing.bill (id) ON DELETE CASCADE,
  description   text NOT NULL,
  amount_minor  bigint NOT NULL
);

CREATE TABLE billing.processed_event (
  event_id      uuid PRIMARY KEY,
  stream_id     text NOT NULL,
  processed_at  timestamptz NOT NULL
);

CREATE TABLE catalog.product_offering (
  id            uuid PRIMARY KEY,
  name          text NOT NULL,
  version       integer NOT NULL,
  document      jsonb NOT NULL,
  updated_at    timestamptz NOT NULL
);

-- Values chosen to be lossy anywhere a float or text conversion sneaks in: bigints beyond 2^53, negative
-- amounts, unicode, nested JSON with nulls and deep numbers.
INSERT INTO billing.bill (account_id, amount_minor, tax_minor, currency, state, document, issued_at)
SELECT 'acc-' || (g % 37),
       CASE WHEN g % 11 = 0 THEN -g * 1234567 ELSE 9007199254740993 - g * 1000003 END,
       g * 19,
       (ARRAY['EUR', 'USD', 'GBP'])[1 + g % 3],
       (ARRAY['new', 'issued', 'settled'])[1 + g % 3],
       jsonb_build_object(
         'id', g, 'href', '/customerBill/' || g, 'name', 'Rechnung Nr. ' || g || ' — ünïcödé ✓',
         'amountDue', jsonb_build_object('unit', 'EUR', 'value', 9007199254740993 - g),
         'lines', jsonb_build_array(jsonb_build_object('n', g, 'note', NULL), g * 0.01, 'x"y\z'),
         'flags', jsonb_build_object('disputed', g % 5 = 0, 'tags', to_jsonb(ARRAY['a', 'b', g::text]))),
       timestamptz '2026-01-01 00:00:00+00' + g * interval '37 minutes 11.123456 seconds'
FROM generate_series(1, 600) AS g;

INSERT INTO billing.bill_line (bill_id, description, amount_minor)
SELECT b.id, 'line ' || l || ' of bill ' || b.bill_no, b.amount_minor / 3 + l
FROM billing.bill b, generate_series(1, 3) AS l;

INSERT INTO billing.processed_event (event_id, stream_id, processed_at)
SELECT md5('event-' || g)::uuid, '1733232000000-' || g, timestamptz '2026-02-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, 400) AS g;

INSERT INTO catalog.product_offering (id, name, version, document, updated_at)
SELECT md5('offering-' || g)::uuid, 'Offering ' || g, 1 + g % 4,
       jsonb_build_object(
         'name', 'Offering ' || g, 'lifecycleStatus', (ARRAY['Launched', 'Retired', 'In design'])[1 + g % 3],
         'productOfferingPrice', jsonb_build_array(
           jsonb_build_object('priceType', 'recurring', 'price', jsonb_build_object('unit', 'EUR', 'value', g * 1.5))),
         'validFor', jsonb_build_object('startDateTime', '2026-01-01T00:00:00Z', 'endDateTime', NULL),
         'description', repeat('Lorem ipsum ' || g || ' ', 1 + g % 20)),
       timestamptz '2026-03-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, 250) AS g;

-- The sequences run ahead of the data (numbers taken by rolled-back transactions): their state must survive.
SELECT nextval('billing.bill_number_seq') FROM generate_series(1, 5);
SELECT nextval('billing.bill_line_id_seq') FROM generate_series(1, 3);
COMMIT;
SQL

original=$(checksum)
echo "# checksum: $original"

# ---------------------------------------------------------------------------------------------------------
# 1. Backup.
dump=$WORK/bss.dump
out=$(DATABASE_URL=$SCRATCH_URL bash scripts/backup.sh "$dump" 2>"$WORK/backup.err") && rc=0 || rc=$?
if [[ $rc == 0 && $out == "$dump" && -s $dump ]]; then
  ok "backup.sh writes the archive and prints its path"
else
  not_ok "backup.sh writes the archive and prints its path (exit $rc, stdout '$out')"
  sed 's/^/#   /' "$WORK/backup.err"
fi
check "the archive is private to its owner (mode 600)" \
  test "$(stat -c %a "$dump" 2>/dev/null)" = 600
toc=$("${PSQL%psql}pg_restore" --list "$dump" 2>/dev/null || true)
check "the archive holds the data of billing.bill, billing.bill_line, billing.processed_event, catalog.product_offering" \
  bash -c 'for t in "billing bill" "billing bill_line" "billing processed_event" "catalog product_offering"; do
             grep -q "TABLE DATA $t " <<<"$0" || exit 1; done' "$toc"
check "the archive holds the sequence states" \
  bash -c 'grep -q "SEQUENCE SET billing bill_number_seq" <<<"$0"' "$toc"
check "backup.sh never overwrites an existing file" \
  bash -c '! DATABASE_URL=$0 bash scripts/backup.sh "$1" >/dev/null 2>&1' "$SCRATCH_URL" "$dump"

# Default file name: backups/bss-<UTC timestamp>.dump (removed again).
out=$(DATABASE_URL=$SCRATCH_URL bash scripts/backup.sh 2>/dev/null) || out=""
if [[ $out =~ ^$REPO/backups/bss-[0-9]{8}T[0-9]{6}Z\.dump$ && -s $out ]]; then
  ok "backup.sh without FILE writes backups/bss-<yyyymmddThhmmssZ>.dump"
else
  not_ok "backup.sh without FILE writes backups/bss-<yyyymmddThhmmssZ>.dump (got '$out')"
fi
[[ -n $out && $out == "$REPO"/backups/bss-*.dump ]] && rm -f -- "$out"

# ---------------------------------------------------------------------------------------------------------
# 2. Damage the data, then restore.
sql >/dev/null <<'SQL'
BEGIN;
UPDATE billing.bill SET amount_minor = amount_minor + 1, document = document || '{"state": "tampered"}' WHERE id % 3 = 0;
DELETE FROM billing.bill WHERE id % 10 = 0;
DROP TABLE billing.processed_event;
DELETE FROM catalog.product_offering WHERE version = 2;
UPDATE catalog.product_offering SET document = jsonb_set(document, '{name}', '"renamed"') WHERE version = 3;
INSERT INTO catalog.product_offering VALUES (gen_random_uuid(), 'new', 1, '{}', now());
SELECT nextval('billing.bill_number_seq') FROM generate_series(1, 9);
COMMIT;
SQL
damaged=$(checksum)
check "the damage changes the checksum" test "$damaged" != "$original"

if DATABASE_URL=$SCRATCH_URL bash scripts/restore.sh --yes "$dump" >"$WORK/restore.out" 2>&1; then
  ok "restore.sh --yes restores the archive"
else
  not_ok "restore.sh --yes restores the archive"
  tail -n 10 "$WORK/restore.out" | sed 's/^/#   /'
fi
restored=$(checksum)
if [[ $restored == "$original" ]]; then
  ok "every row, JSONB document, sequence state and definition is back exactly"
else
  not_ok "every row, JSONB document, sequence state and definition is back exactly"
  echo "#   expected: $original"
  echo "#   got:      $restored"
fi
check "the restored sequence continues where it was" \
  test "$(sql -c "SELECT nextval('billing.bill_number_seq')")" = "$(sql -c "SELECT max(bill_no) + 7 * 6 FROM billing.bill")"
# (600 rows took numbers 100000..100000+7*599, then 5 more were drawn: the next one is 6 steps after the max.)

# ---------------------------------------------------------------------------------------------------------
# 3. restore.sh refuses without --yes or FILE.
sql -c "UPDATE catalog.product_offering SET version = version + 100 WHERE name = 'Offering 1'" >/dev/null || true
before=$(checksum)
DATABASE_URL=$SCRATCH_URL bash scripts/restore.sh "$dump" >/dev/null 2>&1 && rc=0 || rc=$?
check "restore.sh without --yes refuses with exit 2" test "$rc" = 2
DATABASE_URL=$SCRATCH_URL bash scripts/restore.sh --yes >/dev/null 2>&1 && rc=0 || rc=$?
check "restore.sh without FILE refuses with exit 2" test "$rc" = 2
check "the refusals change nothing" test "$(checksum)" = "$before"

# ---------------------------------------------------------------------------------------------------------
# 4. A truncated archive fails and changes nothing.
size=$(stat -c %s "$dump")
head -c $((size * 2 / 3)) "$dump" >"$WORK/cut-data.dump"
head -c 100 "$dump" >"$WORK/cut-toc.dump"
for cut in cut-data cut-toc; do
  before=$(checksum)
  DATABASE_URL=$SCRATCH_URL bash scripts/restore.sh --yes "$WORK/$cut.dump" >"$WORK/$cut.out" 2>&1 && rc=0 || rc=$?
  check "restore.sh of a truncated archive ($cut, $(stat -c %s "$WORK/$cut.dump") of $size bytes) fails" test "$rc" != 0
  after=$(checksum)
  if [[ $after == "$before" ]]; then
    ok "the failed restore ($cut) left the database unchanged"
  else
    not_ok "the failed restore ($cut) left the database unchanged"
    tail -n 5 "$WORK/$cut.out" | sed 's/^/#   /'
  fi
done

# ---------------------------------------------------------------------------------------------------------
# 5. A table created after the backup in one of its schemas (a later migration): the plain restore refuses and
#    changes nothing; --drop-schemas replaces the schemas wholesale, also atomically.
sql -c "CREATE TABLE billing.added_later (id bigint PRIMARY KEY); INSERT INTO billing.added_later VALUES (1);
        DELETE FROM billing.bill WHERE id % 7 = 0" >/dev/null || true
before=$(checksum)
DATABASE_URL=$SCRATCH_URL bash scripts/restore.sh --yes "$dump" >"$WORK/later.out" 2>&1 && rc=0 || rc=$?
check "restore.sh refuses an archive whose schema gained a table since, changing nothing" \
  test "$rc" != 0 -a "$(checksum)" = "$before"
DATABASE_URL=$SCRATCH_URL bash scripts/restore.sh --yes --drop-schemas "$WORK/cut-data.dump" >"$WORK/later.out" 2>&1 && rc=0 || rc=$?
check "restore.sh --drop-schemas of a truncated archive fails and changes nothing" \
  test "$rc" != 0 -a "$(checksum)" = "$before"
if DATABASE_URL=$SCRATCH_URL bash scripts/restore.sh --yes --drop-schemas "$dump" >"$WORK/later.out" 2>&1; then
  ok "restore.sh --yes --drop-schemas restores the archive"
else
  not_ok "restore.sh --yes --drop-schemas restores the archive"
  tail -n 5 "$WORK/later.out" | sed 's/^/#   /'
fi
check "after --drop-schemas the checksum is the original one" test "$(checksum)" = "$original"
check "after --drop-schemas the table created after the backup is gone" \
  test "$(sql -c "SELECT to_regclass('billing.added_later') IS NULL")" = t

echo "backup-restore: $passed passed, $failed failed"
((failed == 0))
