#!/usr/bin/env bash
# restore.sh — restore an archive of scripts/backup.sh into the BSS database, REPLACING its data.
#
# Usage: scripts/restore.sh --yes [--drop-schemas] FILE           (make restore FILE=backups/….dump)
#   --yes           required: the restore drops and recreates every object in the archive (schemas, tables,
#                   sequences)
#   --drop-schemas  also drop what is in the archive's schemas but not in the archive (see below)
#   FILE            a pg_dump custom-format archive (scripts/backup.sh)
#
# Database: DATABASE_URL from the environment, else the local stack's (scripts/devstack.sh env). Stop the
# services (or scale them to zero) first: the restore takes exclusive locks on every table it replaces.
#
# The archive is checked with `pg_restore --list` first, then restored with
#   pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error
# so the whole restore is one transaction: a damaged or truncated archive, or any error, rolls everything back
# and the database stays exactly as it was. Exit status: 0 restored, 1 failed (nothing changed), 2 usage.
#
# --clean drops only what the archive holds. Objects created after the backup survive, and when one sits in a
# schema of the archive (a table a later migration added) the DROP SCHEMA fails and the restore is refused,
# rolled back. To go back to such an older backup use --drop-schemas: every schema of the archive is dropped with
# CASCADE and then restored, all in one transaction (pg_restore writes the SQL to a temporary file first, which
# psql --single-transaction then runs, so a damaged archive still changes nothing).
set -euo pipefail

BK_NAME=restore
# shellcheck source=scripts/backup.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup.sh"

usage() {
  echo "usage: scripts/restore.sh --yes [--drop-schemas] FILE   (replaces the data of the database in DATABASE_URL," \
    "default: the local stack's)" >&2
  exit 2
}

restore_main() {
  local yes="" file="" drop=""
  while (($#)); do
    case $1 in
      --yes) yes=1 ;;
      --drop-schemas) drop=1 ;;
      -h | --help)
        sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
        return 0
        ;;
      -*)
        echo "restore: unknown option $1" >&2
        usage
        ;;
      *)
        if [[ -n $file ]]; then
          echo "restore: one FILE only" >&2
          usage
        fi
        file=$1
        ;;
    esac
    shift
  done
  if [[ -z $file ]]; then
    echo "restore: no FILE given" >&2
    usage
  fi
  if [[ -z $yes ]]; then
    echo "restore: refusing to replace the database's data without --yes" >&2
    usage
  fi
  [[ -f $file && -r $file ]] || bk_die "$file is not a readable file"

  bk_setup
  local entries
  entries=$(bk_list "$file") || bk_die "$file is not a readable pg_dump custom-format archive (pg_restore --list); nothing changed"
  bk_log "restoring $file ($entries entries) into $(bk_target) (PostgreSQL $BK_SERVER_MAJOR) in one transaction"
  local start=$SECONDS
  if [[ -n $drop ]]; then
    restore_dropping_schemas "$file"
  elif ! "$PG_BIN/pg_restore" --clean --if-exists --no-owner --single-transaction --exit-on-error \
    --no-password -d "$BK_URL" "$file"; then
    bk_die "pg_restore failed; the transaction was rolled back and $(bk_target) is unchanged"
  fi
  bk_log "restored $file into $(bk_target) ($((SECONDS - start))s)"
}

# restore_dropping_schemas FILE: DROP SCHEMA … CASCADE for each schema in FILE, then FILE, in one transaction.
restore_dropping_schemas() {
  local file=$1 schemas s sql
  schemas=$("$PG_BIN/pg_restore" --list "$file" | awk '$4 == "SCHEMA" && $5 == "-" { print $6 }')
  for s in $schemas; do
    [[ $s =~ ^[a-z_][a-z0-9_]*$ ]] || bk_die "unexpected schema name '$s' in $file; nothing changed"
  done
  bk_log "dropping the archive's schemas first: $(tr '\n' ' ' <<<"${schemas:-none}")"
  sql=$(umask 077 && mktemp "${TMPDIR:-/tmp}/bss-restore.XXXXXX.sql")
  # shellcheck disable=SC2064 # the name is fixed now
  trap "rm -f -- '$sql'" EXIT
  {
    for s in $schemas; do printf 'DROP SCHEMA IF EXISTS %s CASCADE;\n' "$s"; done
    "$PG_BIN/pg_restore" --clean --if-exists --no-owner --exit-on-error -f - "$file" ||
      bk_die "pg_restore cannot read all of $file; nothing changed"
  } >"$sql"
  "$PG_BIN/psql" -X -q -w --single-transaction -v ON_ERROR_STOP=1 -d "$BK_URL" -f "$sql" >/dev/null ||
    bk_die "the restore failed; the transaction was rolled back and $(bk_target) is unchanged"
  rm -f -- "$sql"
  trap - EXIT
}

restore_main "$@"
