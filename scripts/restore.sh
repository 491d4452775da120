#!/usr/bin/env bash
# restore.sh — replace the BSS database's contents with a scripts/backup.sh archive, all or nothing.
#
# Usage: scripts/restore.sh [--yes] FILE [-- PG_RESTORE_ARGS...]          (make restore FILE=path)
#   FILE   a custom-format archive written by scripts/backup.sh (pg_dump -Fc)
#   --yes  do not ask. Without it the script asks for the database's name on a terminal, and refuses to run
#          when there is none (CI, pipes): a restore drops and recreates every object the archive holds.
# Exit status: 0 restored; 1 failed or refused (the database is unchanged); 2 usage (no FILE).
#
# The target database is chosen exactly as scripts/backup.sh chooses it: DATABASE_URL, else DATABASE_HOST/…,
# else the local stack's (scripts/devstack.sh env). The database must exist (an empty one is fine).
#
# How, and why so:
#   1. The whole archive is read first (table of contents and every data block, as backup.sh verifies), so a
#      truncated or corrupt file is refused before anything is touched.
#   2. In ONE transaction: every schema the archive holds is dropped (CASCADE: also tables created after the
#      backup, e.g. by a newer migration, which would otherwise make pg_restore --clean fail), then the script of
#      pg_restore --clean --if-exists --no-owner recreates the objects and loads the rows. A restore that fails
#      half-way (a missing role in a GRANT, a lock it cannot get, a full disk, an archive that stops reading)
#      rolls back and the database is exactly as before. (pg_restore --single-transaction itself cannot run the
#      schema drops in its transaction, so the script goes through psql between our own BEGIN and COMMIT.)
#      --no-owner: objects belong to the restoring role, so a dump of one environment restores into another.
#      Schemas the archive does not hold (created after the backup) are left alone, and named.
#   3. lock_timeout (BSS_RESTORE_LOCK_TIMEOUT, default 60s): a running service holding locks makes the restore
#      fail (and roll back) instead of waiting for ever. Stop the services first (or scale them to zero).
# Redis is not in the backup: after a restore, restart the services so caches and idempotency keys of the
# replaced data are not served (the local stack's Redis keeps no data: make infra-down && make infra-up).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The connection and client-lookup helpers (bk_*) of backup.sh; sourcing it runs nothing.
# shellcheck source=backup.sh
source "$REPO/scripts/backup.sh"
BK_NAME=restore

yes=0 file=""
extra=()
while (($#)); do
  arg=$1
  shift
  case $arg in
    -y | --yes) yes=1 ;;
    -h | --help)
      sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    --)
      extra=("$@")
      break
      ;;
    -*) bk_die "unknown option $arg (pg_restore options go after --)" ;;
    *)
      [[ -z $file ]] || bk_die "one FILE only"
      file=$arg
      ;;
  esac
done
if [[ -z $file ]]; then
  echo "restore: which archive? usage: scripts/restore.sh [--yes] FILE   (make restore FILE=backups/bss-….dump)" >&2
  exit 2
fi
[[ -f $file && -r $file ]] || bk_die "$file is not a readable file"

bk_connection
bk_find_client

# 1. The archive reads back completely, and this server and pg_restore can take it.
entries=$(bk_verify "$file") ||
  bk_die "$file is not a complete pg_dump custom-format archive (truncated or corrupt); the database was not touched"
header=$("$PG_CLIENT_BIN/pg_restore" --list "$file")
dumped_from=$(sed -n 's/^;[[:space:]]*Dumped from database version: \([0-9]*\).*/\1/p' <<<"$header")
dumped_db=$(sed -n 's/^;[[:space:]]*dbname: //p' <<<"$header")
if [[ -n $dumped_from ]] && ((dumped_from > BK_SERVER_MAJOR)); then
  bk_die "$file was dumped from PostgreSQL $dumped_from; restoring into the older $BK_SERVER_MAJOR is not supported"
fi

db=$(bk_psql -c 'SELECT current_database()')
target=$(bk_redacted)

# 2. Confirmation.
if ((!yes)); then
  if [[ -t 0 && -t 2 ]]; then
    printf 'restore: this replaces every object of the archive %s (database %s) in database %s (%s).\n' \
      "$file" "${dumped_db:-?}" "$db" "$target" >&2
    printf 'restore: type the database name (%s) to go on: ' "$db" >&2
    read -r answer || answer=""
    [[ $answer == "$db" ]] || bk_die "not confirmed; nothing was changed"
  else
    bk_die "refusing to replace database $db ($target) without --yes (no terminal to ask on); nothing was changed"
  fi
fi

# Schemas the archive holds are replaced as a whole: dropped (CASCADE) and recreated from the archive. pg_restore
# --clean alone drops only the objects the archive names, so a table created after the backup (a newer
# migration: the usual reason to go back to a backup) would make its DROP SCHEMA fail and the restore impossible.
mapfile -t archive_schemas < <(awk '$4 == "SCHEMA" && $5 == "-" && (NF == 6 || NF == 7) { print $6 }' <<<"$header" | sort -u)
archive_tables=$(awk '$4 == "TABLE" && $5 != "-" { print $5 "." $6 }' <<<"$header" | sort -u)
db_tables=$(bk_psql -c "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'" | sort -u)
newer_tables="" other_tables=""
while IFS= read -r t; do
  [[ -n $t ]] || continue
  if printf '%s\n' "${archive_schemas[@]}" | grep -qxF -- "${t%%.*}"; then newer_tables+=" $t"; else other_tables+=" $t"; fi
done < <(comm -23 <(printf '%s\n' "$db_tables") <(printf '%s\n' "$archive_tables"))
[[ -z $newer_tables ]] ||
  bk_log "note: not in the archive, dropped with their schema:$newer_tables"
[[ -z $other_tables ]] ||
  bk_log "note: in schemas the archive does not have, left as they are:$other_tables"
others=$(bk_psql -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
((others == 0)) ||
  bk_log "note: $others other session(s) on $db (services running?); a lock they hold makes the restore fail after" \
    "${BSS_RESTORE_LOCK_TIMEOUT:-60s}, changing nothing"

# 3. One transaction: BEGIN, the schema drops, pg_restore's script (--clean --if-exists --no-owner), COMMIT — sent
# only once pg_restore has written all of it, so an archive that fails to read half-way, or any statement that
# fails (psql stops at the first error), leaves the transaction open and the server rolls it back.
bk_log "restoring $file ($entries archive entries, from database ${dumped_db:-?}) into $target with $PG_CLIENT_BIN/pg_restore"
start=$SECONDS
export PGOPTIONS="${PGOPTIONS:+$PGOPTIONS }-c lock_timeout=${BSS_RESTORE_LOCK_TIMEOUT:-60s}"
restore_script() {
  local s
  printf 'BEGIN;\nSET client_min_messages = warning;\n' # no NOTICE for each object a schema drop cascades to
  for s in "${archive_schemas[@]}"; do printf 'DROP SCHEMA IF EXISTS "%s" CASCADE;\n' "${s//\"/\"\"}"; done
  "$PG_CLIENT_BIN/pg_restore" --clean --if-exists --no-owner --file=- "${extra[@]}" "$file" || {
    echo "restore: pg_restore could not read $file to the end" >&2
    return 1
  }
  printf 'COMMIT;\n'
}
if ! restore_script | "$PG_CLIENT_BIN/psql" -X -q -w -v ON_ERROR_STOP=1 -d "$BK_URL" >/dev/null; then
  bk_die "the restore failed; its transaction was rolled back and $db is unchanged"
fi
bk_log "restored $db from $file in $((SECONDS - start))s; restart the services (caches and idempotency keys in Redis" \
  "describe the replaced data)"
