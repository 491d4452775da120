#!/usr/bin/env bash
# backup.sh — dump the BSS database (all service schemas) into one PostgreSQL custom-format archive.
#
# Usage: scripts/backup.sh [FILE]                                  (make backup [FILE=path])
#   FILE  where to write; default backups/bss-<UTC yyyymmddThhmmssZ>.dump in the repository. An existing file
#         is never overwritten. The path of the archive is the only line on stdout; messages go to stderr.
#
# Database: DATABASE_URL from the environment, else the local stack's (scripts/devstack.sh env; start it with
# `make infra-up`). The password is taken out of the URL and handed to libpq in PGPASSWORD, so it never shows
# up in a process listing.
#
# The dump is `pg_dump -Fc` (one consistent snapshot, compressed), written under a temporary name beside FILE,
# checked with `pg_restore --list` and only then renamed to FILE, mode 0600 (it holds customer data).
#
# Client programs must be at least the server's major version: the newest /usr/lib/postgresql/<major>/bin
# (Debian/Ubuntu) is preferred over PATH; BSS_PG_BIN=<dir> overrides. scripts/restore.sh sources this file for
# these helpers (everything above `backup_main`).
set -euo pipefail

BK_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BK_NAME=${BK_NAME:-backup}

bk_log() { printf '%s: %s\n' "$BK_NAME" "$*" >&2; }
bk_die() {
  printf '%s: error: %s\n' "$BK_NAME" "$*" >&2
  exit 1
}

# bk_pg_bin: set PG_BIN to a directory with psql, pg_dump and pg_restore.
PG_BIN=""
bk_pg_bin() {
  local dir
  if [[ -n ${BSS_PG_BIN:-} ]]; then
    PG_BIN=$BSS_PG_BIN
  else
    # Newest Debian-style version directory first, then PATH.
    while IFS= read -r dir; do
      if [[ -x $dir/psql && -x $dir/pg_dump && -x $dir/pg_restore ]]; then
        PG_BIN=$dir
        break
      fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
    if [[ -z $PG_BIN ]] && command -v pg_dump >/dev/null 2>&1; then
      PG_BIN=$(dirname "$(command -v pg_dump)")
    fi
  fi
  [[ -n $PG_BIN && -x $PG_BIN/psql && -x $PG_BIN/pg_dump && -x $PG_BIN/pg_restore ]] ||
    bk_die "no PostgreSQL client programs (psql, pg_dump, pg_restore) found${BSS_PG_BIN:+ in BSS_PG_BIN=$BSS_PG_BIN};" \
      "install postgresql-client (15 or later) or set BSS_PG_BIN"
}

# bk_urldecode STRING: percent-decoding of a URL component.
bk_urldecode() {
  local s=${1//\\/\\\\}
  printf '%b' "${s//%/\\x}"
}

# bk_connection: set BK_URL (DATABASE_URL without its password) and export PGPASSWORD when it had one.
BK_URL="" BK_SOURCE=""
bk_connection() {
  local url
  if [[ -n ${DATABASE_URL:-} ]]; then
    url=$DATABASE_URL
    BK_SOURCE=DATABASE_URL
  else
    local lines
    lines=$(bash "$BK_REPO/scripts/devstack.sh" env) || bk_die "scripts/devstack.sh env failed"
    url=$(sed -n 's/^export DATABASE_URL=//p' <<<"$lines")
    eval "url=$url" # undo the printf %q quoting of `env`
    BK_SOURCE="the local stack (scripts/devstack.sh env)"
  fi
  [[ $url == postgres://* || $url == postgresql://* ]] || bk_die "DATABASE_URL is not a postgres:// URL"
  local scheme=${url%%://*} rest=${url#*://} authority userinfo
  authority=${rest%%[/?]*}
  if [[ $authority == *@* ]]; then
    userinfo=${authority%@*}
    if [[ $userinfo == *:* ]]; then
      PGPASSWORD=$(bk_urldecode "${userinfo#*:}")
      export PGPASSWORD
      url="$scheme://${userinfo%%:*}@${authority##*@}${rest#"$authority"}"
    fi
  fi
  BK_URL=$url
}

# bk_target: the database without credentials or parameters, for messages.
bk_target() {
  local rest=${BK_URL#*://}
  rest=${rest#*@}
  printf '%s\n' "${rest%%\?*}"
}

bk_psql() { "$PG_BIN/psql" -X -q -A -t -w -v ON_ERROR_STOP=1 -d "$BK_URL" "$@"; }

bk_major() { "$1" --version 2>/dev/null | sed -n 's/^[^0-9]*\([0-9][0-9]*\).*/\1/p' | head -n1; }

# bk_setup: connection, client programs, and a check that they are not older than the server.
BK_SERVER_MAJOR=""
bk_setup() {
  bk_connection
  bk_pg_bin
  local num client
  num=$(bk_psql -c 'SHOW server_version_num' 2>&1) ||
    bk_die "cannot connect to $(bk_target) (from $BK_SOURCE): $num"
  [[ $num =~ ^[0-9]+$ ]] || bk_die "unexpected server_version_num: $num"
  BK_SERVER_MAJOR=$((num / 10000))
  client=$(bk_major "$PG_BIN/pg_dump")
  [[ -n $client ]] || bk_die "cannot tell the version of $PG_BIN/pg_dump"
  ((client >= BK_SERVER_MAJOR)) ||
    bk_die "$PG_BIN/pg_dump is PostgreSQL $client, older than the server ($BK_SERVER_MAJOR); install" \
      "postgresql-client-$BK_SERVER_MAJOR or set BSS_PG_BIN"
}

# bk_list FILE: the archive's table of contents reads back; prints the number of entries.
bk_list() {
  local toc
  toc=$("$PG_BIN/pg_restore" --list "$1" 2>&1) || {
    printf '%s\n' "$toc" | tail -n 5 >&2
    return 1
  }
  grep -c '^[0-9]' <<<"$toc" || true
}

backup_main() {
  local file=""
  while (($#)); do
    case $1 in
      -h | --help)
        sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
        return 0
        ;;
      -*) bk_die "unknown option $1 (usage: scripts/backup.sh [FILE])" ;;
      *)
        [[ -z $file ]] || bk_die "one FILE only (usage: scripts/backup.sh [FILE])"
        file=$1
        ;;
    esac
    shift
  done
  [[ -n $file ]] || file=$BK_REPO/backups/bss-$(date -u +%Y%m%dT%H%M%SZ).dump
  [[ $file == /* ]] || file=$PWD/$file
  [[ ! -e $file ]] || bk_die "$file exists; a backup is never overwritten (choose another FILE)"
  local dir
  dir=$(dirname "$file")
  mkdir -p "$dir"

  bk_setup
  local schemas
  schemas=$(bk_psql -c "SELECT coalesce(string_agg(nspname, ' ' ORDER BY nspname), '') FROM pg_namespace
                        WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'")
  bk_log "dumping $(bk_target) (PostgreSQL $BK_SERVER_MAJOR; schemas: ${schemas:-none}) with $PG_BIN/pg_dump"

  local tmp entries start=$SECONDS
  tmp=$(umask 077 && mktemp "$dir/.bss-backup.XXXXXX")
  # shellcheck disable=SC2064 # the name is fixed now
  trap "rm -f -- '$tmp'" EXIT
  "$PG_BIN/pg_dump" --format=custom --no-password --dbname="$BK_URL" --file="$tmp" ||
    bk_die "pg_dump failed; nothing written to $file"
  entries=$(bk_list "$tmp") || bk_die "pg_restore --list cannot read the new archive; nothing written to $file"
  mv -n -- "$tmp" "$file"
  [[ ! -e $tmp ]] || bk_die "$file appeared while dumping; the dump stays in $tmp"
  trap - EXIT
  bk_log "wrote $file ($(du -h "$file" | cut -f1), $entries entries, verified with pg_restore --list, $((SECONDS - start))s)"
  printf '%s\n' "$file"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  backup_main "$@"
fi
