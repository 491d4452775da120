#!/usr/bin/env bash
# backup.sh — dump the BSS database (every service schema: catalog, customer, ordering, billing, and anything
# else in it) to one PostgreSQL custom-format archive, and check that the archive reads back.
#
# Usage: scripts/backup.sh [FILE] [-- PG_DUMP_ARGS...]          (make backup [FILE=path])
#   FILE        where to write (default <repo>/backups/bss-<UTC timestamp>.dump); an existing file is never
#               overwritten. The path of the written archive is the only line on stdout.
#
# Which database:
#   DATABASE_URL from the environment when set (production use: the URL the services use), else the variables
#   DATABASE_HOST/_PORT/_NAME/_USER/DATABASE_PASSWORD (the services' other form), else the local stack's
#   (scripts/devstack.sh env; start it with `make infra-up`). The password never goes on a command line: it is
#   taken out of the URL and handed to libpq in PGPASSWORD.
#
# How: pg_dump -Fc (compressed, restorable selectively and in one transaction by scripts/restore.sh), run in one
# repeatable-read snapshot, so the archive is consistent while the services keep running. It is written under a
# temporary name beside FILE and renamed only once it has been verified: `pg_restore --list` reads its table of
# contents and a full `pg_restore -f /dev/null` reads and decompresses every data block, so a truncated or
# corrupt archive is never left under the final name. Archives hold customer data: they are created mode 0600.
#
# Client programs: pg_dump must be at least the server's major version. The PostgreSQL client directory is
# looked up the way scripts/devstack.sh finds the server (Debian's /usr/lib/postgresql/<major>/bin, else PATH),
# preferring the server's own major version, else the newest installed; BSS_PG_BIN=<dir> overrides.
#
# scripts/restore.sh sources this file for the lookup and connection helpers (everything above `main`); run as a
# program it makes a backup.
set -euo pipefail

BACKUP_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bk_log() { printf '%s: %s\n' "${BK_NAME:-backup}" "$*" >&2; }
bk_die() {
  printf '%s: error: %s\n' "${BK_NAME:-backup}" "$*" >&2
  exit 1
}

# bk_urldecode STRING: percent-decoding of a URL component.
bk_urldecode() {
  local s=${1//\\/\\\\} # a literal backslash stays one (printf %b would read it as an escape)
  printf '%b' "${s//%/\\x}"
}

# bk_connection: set BK_URL (a libpq URI or conninfo without the password) and export PGPASSWORD when there is
# one, from DATABASE_URL, the DATABASE_* variables or the local stack, in that order. BK_SOURCE says which.
BK_URL="" BK_SOURCE=""
bk_connection() {
  local url
  if [[ -n ${DATABASE_URL:-} ]]; then
    url=$DATABASE_URL
    BK_SOURCE="DATABASE_URL"
  elif [[ -n ${DATABASE_HOST:-} ]]; then
    # The services' split form; libpq reads the same values from its own variables.
    export PGHOST=$DATABASE_HOST
    export PGPORT=${DATABASE_PORT:-5432}
    export PGDATABASE=${DATABASE_NAME:-bss}
    if [[ -n ${DATABASE_USER:-} ]]; then export PGUSER=$DATABASE_USER; fi
    if [[ -n ${DATABASE_PASSWORD:-} ]]; then export PGPASSWORD=$DATABASE_PASSWORD; fi
    BK_URL="dbname=$PGDATABASE"
    BK_SOURCE="DATABASE_HOST"
    return 0
  else
    local env_lines
    env_lines=$(bash "$BACKUP_REPO/scripts/devstack.sh" env) || bk_die "scripts/devstack.sh env failed"
    url=$(sed -n "s/^export DATABASE_URL=//p" <<<"$env_lines")
    eval "url=$url" # undo the printf %q quoting of `env`
    BK_SOURCE="the local stack (scripts/devstack.sh env)"
  fi
  case $url in
    postgres://* | postgresql://*) ;;
    *) bk_die "DATABASE_URL is not a postgres:// URL" ;;
  esac
  # Take the password out: postgres://user:password@host:port/db?params -> postgres://user@host:port/db?params
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

# bk_redacted: the connection target without credentials or parameters, for messages.
bk_redacted() {
  if [[ $BK_URL == *://* ]]; then
    local rest=${BK_URL#*://}
    rest=${rest#*@}
    printf '%s\n' "${rest%%\?*}"
  else
    printf '%s:%s/%s\n' "${PGHOST:-}" "${PGPORT:-}" "${PGDATABASE:-}"
  fi
}

# bk_major BIN: the major version of a PostgreSQL client program ("pg_dump (PostgreSQL) 15.18 (Debian…)" -> 15).
bk_major() {
  "$1" --version 2>/dev/null | sed -n 's/^[^0-9]*\([0-9][0-9]*\).*/\1/p' | head -n1
}

# bk_candidate_dirs: directories holding psql, pg_dump and pg_restore, by ascending major version: Debian's
# /usr/lib/postgresql/<major>/bin, and the directory of pg_dump in PATH (Homebrew, a container image; on Debian
# /usr/bin/pg_dump is a wrapper that picks a version itself, so it ranks after a real directory of its version).
bk_candidate_dirs() {
  local dir major
  {
    if command -v pg_dump >/dev/null 2>&1; then
      dir=$(dirname "$(command -v pg_dump)")
      major=$(bk_major "$dir/pg_dump")
      if [[ -n $major && -x $dir/psql && -x $dir/pg_restore ]]; then printf '%s 0 %s\n' "$major" "$dir"; fi
    fi
    for dir in /usr/lib/postgresql/*/bin; do
      major=$(bk_major "$dir/pg_dump")
      if [[ -n $major && -x $dir/psql && -x $dir/pg_restore ]]; then printf '%s 1 %s\n' "$major" "$dir"; fi
    done
  } | sort -n -k1,1 -k2,2 | cut -d' ' -f3-
}

# bk_psql_in DIR ARGS...: psql from DIR against BK_URL, unaligned, no prompts, stopping at the first error.
bk_psql_in() {
  local dir=$1
  shift
  "$dir/psql" -X -q -A -t -w -v ON_ERROR_STOP=1 -d "$BK_URL" "$@"
}

# bk_psql ARGS...: psql from PG_CLIENT_BIN.
bk_psql() { bk_psql_in "$PG_CLIENT_BIN" "$@"; }

# bk_find_client: set PG_CLIENT_BIN to the client directory for the server behind BK_URL (its own major version
# when installed, else the newest) and BK_SERVER_MAJOR; fails when the server cannot be reached or no client
# is new enough.
PG_CLIENT_BIN="" BK_SERVER_MAJOR=""
bk_find_client() {
  local -a dirs
  if [[ -n ${BSS_PG_BIN:-} ]]; then
    [[ -x $BSS_PG_BIN/pg_dump && -x $BSS_PG_BIN/pg_restore && -x $BSS_PG_BIN/psql ]] ||
      bk_die "BSS_PG_BIN=$BSS_PG_BIN has no psql, pg_dump and pg_restore"
    dirs=("$BSS_PG_BIN")
  else
    mapfile -t dirs < <(bk_candidate_dirs)
    ((${#dirs[@]})) || bk_die "no PostgreSQL client programs (psql, pg_dump, pg_restore) found; on Debian/Ubuntu:" \
      "apt-get install postgresql-client (version 15 or later), or set BSS_PG_BIN"
  fi
  local newest=${dirs[-1]} num hint=""
  [[ $BK_SOURCE == the\ local* ]] && hint=$'\n  is the local stack running? make infra-up'
  num=$(bk_psql_in "$newest" -c 'SHOW server_version_num' 2>&1) ||
    bk_die "cannot connect to $(bk_redacted) (from $BK_SOURCE): $num$hint"
  [[ $num =~ ^[0-9]+$ ]] || bk_die "unexpected server_version_num: $num"
  BK_SERVER_MAJOR=$((num / 10000))
  local dir client_major
  PG_CLIENT_BIN=""
  for dir in "${dirs[@]}"; do
    if [[ $(bk_major "$dir/pg_dump") == "$BK_SERVER_MAJOR" ]]; then PG_CLIENT_BIN=$dir; fi
  done
  [[ -n $PG_CLIENT_BIN ]] || PG_CLIENT_BIN=$newest
  client_major=$(bk_major "$PG_CLIENT_BIN/pg_dump")
  [[ -n $client_major ]] || bk_die "cannot tell the version of $PG_CLIENT_BIN/pg_dump"
  ((client_major >= BK_SERVER_MAJOR)) ||
    bk_die "pg_dump $client_major ($PG_CLIENT_BIN) is older than the server (PostgreSQL $BK_SERVER_MAJOR); install" \
      "postgresql-client-$BK_SERVER_MAJOR or newer, or point BSS_PG_BIN at it"
}

# bk_verify FILE: the archive is a complete, readable custom-format dump (table of contents and every data
# block). Prints the number of entries in its table of contents.
bk_verify() {
  local file=$1 toc out
  toc=$("$PG_CLIENT_BIN/pg_restore" --list "$file" 2>&1) || {
    printf '%s\n' "$toc" | tail -n 5 >&2
    return 1
  }
  # --list reads only the table of contents; reading every block to /dev/null also decompresses it, so
  # truncation or corruption anywhere fails here.
  out=$("$PG_CLIENT_BIN/pg_restore" --file=/dev/null "$file" 2>&1) || {
    printf '%s\n' "$out" | tail -n 5 >&2
    return 1
  }
  awk '/^[0-9]/ { n++ } END { print n + 0 }' <<<"$toc"
}

# ----------------------------------------------------------------------------------------------------------

main() {
  BK_NAME=backup
  local file="" arg
  local -a extra=()
  while (($#)); do
    arg=$1
    shift
    case $arg in
      -h | --help)
        sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
        return 0
        ;;
      --)
        extra=("$@")
        break
        ;;
      -*) bk_die "unknown option $arg (pg_dump options go after --)" ;;
      *)
        [[ -z $file ]] || bk_die "one FILE only"
        file=$arg
        ;;
    esac
  done
  [[ -n $file ]] || file=$BACKUP_REPO/backups/bss-$(date -u +%Y%m%dT%H%M%SZ).dump
  [[ $file == /* ]] || file=$PWD/$file
  [[ ! -e $file ]] || bk_die "$file exists; choose another FILE (a backup is never overwritten)"
  local dir
  dir=$(dirname "$file")
  mkdir -p "$dir"

  bk_connection
  bk_find_client

  local db schemas missing="" s
  db=$(bk_psql -c 'SELECT current_database()')
  schemas=$(bk_psql -c "SELECT coalesce(string_agg(nspname, ' ' ORDER BY nspname), '') FROM pg_namespace
                        WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'")
  for s in catalog customer ordering billing; do
    [[ " $schemas " == *" $s "* ]] || missing+=" $s"
  done
  [[ -z $missing ]] ||
    bk_log "note: no schema${missing} in $db yet (a service creates its schema when it first starts); dumping what there is"
  bk_log "dumping $(bk_redacted) (PostgreSQL $BK_SERVER_MAJOR, schemas: ${schemas:-none}) with $PG_CLIENT_BIN/pg_dump"

  local tmp entries start=$SECONDS
  tmp=$(umask 077 && mktemp "$dir/.bss-backup.XXXXXX")
  # shellcheck disable=SC2064 # the name is fixed now
  trap "rm -f -- '$tmp'" EXIT
  "$PG_CLIENT_BIN/pg_dump" --format=custom --no-password --dbname="$BK_URL" --file="$tmp" "${extra[@]}" ||
    bk_die "pg_dump failed; nothing was written to $file"
  entries=$(bk_verify "$tmp") || bk_die "the archive does not read back (pg_restore); nothing was written to $file"
  mv -n -- "$tmp" "$file"
  [[ ! -e $tmp ]] || bk_die "$file appeared while dumping; the dump stays in $tmp"
  trap - EXIT
  bk_log "wrote $file ($(du -h "$file" | cut -f1), $entries archive entries, verified with pg_restore, $((SECONDS - start))s)"
  printf '%s\n' "$file"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
