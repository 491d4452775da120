#!/usr/bin/env bash
# devstack.sh — the local development stack of bss-oss-rust, without Docker.
#
# It runs a private PostgreSQL cluster and a private Redis server under $BSS_DEV_DIR (default: .dev in the
# repository) on their own ports, and the four services (catalog, customer, order, billing) as background
# processes built from this workspace. Nothing is installed system-wide except the Debian packages that
# `deps` adds when they are missing (postgresql, redis-server, curl).
#
# Usage: scripts/devstack.sh <command> [args]
#   deps        ensure PostgreSQL server binaries, redis-server and curl are installed (quiet when they are)
#   apt-install PKG...  install Debian packages (as root or with password-less sudo); used by other scripts
#   infra-up    start (initialising on first use) PostgreSQL and Redis; idempotent
#   infra-down  stop Redis and PostgreSQL, keeping their data
#   pg-restart / redis-restart   stop and start one of them (the services keep running: make chaos)
#   env         print `export` lines for the stack:  eval "$(scripts/devstack.sh env)"
#   build       cargo build --bins (debug)
#   up          deps + infra-up + build, start the four services in the background, wait until ready
#   run         like up, then follow the service logs in the foreground; Ctrl-C / SIGTERM stops everything
#   down        stop the services (SIGTERM, then SIGKILL after 35 s), then infra-down
#   status      show what runs
#   token       print a bearer token for the local stack (SCOPES="catalog:read ..." to narrow it)
#   test [ARGS] deps + infra-up, drop leftover test_* databases, cargo nextest run --workspace ARGS,
#               then scripts/test-stack-lifecycle.sh and scripts/test-backup-restore.sh
#   clean       down, then remove $BSS_DEV_DIR (and a relocated PostgreSQL directory, see below)
#
# Settings (environment):
#   BSS_DEV_DIR        state directory (default <repo>/.dev)
#   BSS_PG_PORT        PostgreSQL port on 127.0.0.1 (default 25432)
#   BSS_REDIS_PORT     Redis port on 127.0.0.1 (default 26379)
#   BSS_PORT_CATALOG / BSS_PORT_CUSTOMER / BSS_PORT_ORDER / BSS_PORT_BILLING
#                      service ports (default 8620 / 8629 / 8622 / 8678)
#   BSS_BIN_DIR        where the binaries are (default ${CARGO_TARGET_DIR:-<repo>/target}/debug)
#   BSS_SKIP_BUILD=1   `up`/`run` do not run cargo build (use the binaries as they are)
#   BSS_REDIS_APPENDONLY  yes: Redis keeps an append-only file (default no: nothing persisted)
#   BSS_READY_TIMEOUT  seconds `up` waits for /ready (default 120)
#   BSS_STOP_TIMEOUT   seconds `down` waits after SIGTERM before SIGKILL (default 35)
#   RUST_LOG           passed to the services (default info)
#   SHUTDOWN_DRAIN_SECS  passed to the services (default 1 here: no load balancer to drain)
#   SCOPES             scopes for `token` (default: all scopes, as bss-dev decides)
#
# PostgreSQL refuses to run as root, so when this script runs as root it runs the PostgreSQL programs as
# the `postgres` system user and hands it $BSS_DEV_DIR/pg. When that user cannot reach $BSS_DEV_DIR (a
# checkout under a private home directory), or the path is too long for a Unix socket, the cluster lives in
# /var/tmp/bss-dev-pg-<hash> instead and $BSS_DEV_DIR/pg is a symlink to it.
set -euo pipefail

# ----------------------------------------------------------------------------------------------------------
# Settings and paths
# ----------------------------------------------------------------------------------------------------------

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ORIG_PWD=$PWD

# abspath PATH: PATH made absolute relative to the caller's working directory.
abspath() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$ORIG_PWD/$1" ;;
  esac
}

BSS_DEV_DIR=$(abspath "${BSS_DEV_DIR:-$REPO/.dev}")
BSS_DEV_DIR=${BSS_DEV_DIR%/}
BSS_PG_PORT=${BSS_PG_PORT:-25432}
BSS_REDIS_PORT=${BSS_REDIS_PORT:-26379}
BSS_PORT_CATALOG=${BSS_PORT_CATALOG:-8620}
BSS_PORT_CUSTOMER=${BSS_PORT_CUSTOMER:-8629}
BSS_PORT_ORDER=${BSS_PORT_ORDER:-8622}
BSS_PORT_BILLING=${BSS_PORT_BILLING:-8678}
BSS_REDIS_APPENDONLY=${BSS_REDIS_APPENDONLY:-no}
BSS_READY_TIMEOUT=${BSS_READY_TIMEOUT:-120}
BSS_STOP_TIMEOUT=${BSS_STOP_TIMEOUT:-35}

# cargo resolves a relative CARGO_TARGET_DIR against its working directory (we run it in $REPO).
if [[ -n ${CARGO_TARGET_DIR:-} ]]; then
  CARGO_TARGET_DIR=$(abspath "$CARGO_TARGET_DIR")
  export CARGO_TARGET_DIR
fi
BSS_BIN_DIR=$(abspath "${BSS_BIN_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/debug}")

LOG_DIR=$BSS_DEV_DIR/logs
PID_DIR=$BSS_DEV_DIR/pids
REDIS_DIR=$BSS_DEV_DIR/redis
JWT_FILE=$BSS_DEV_DIR/jwt-secret
PG_LINK=$BSS_DEV_DIR/pg # the PostgreSQL directory (or a symlink to it, see the header)
PG_LOG=$LOG_DIR/postgres.log
REDIS_LOG=$LOG_DIR/redis.log
REDIS_PIDFILE=$REDIS_DIR/redis.pid

SERVICES=(catalog customer order billing)

# Every process a service or `run` starts carries this variable, so `down` finds all of them (also ones whose
# pid file was lost). This script never exports it itself.
STACK_MARKER="BSS_STACK_MARKER=$BSS_DEV_DIR"

# ----------------------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------------------

log() { printf 'devstack: %s\n' "$*" >&2; }
die() {
  printf 'devstack: error: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

svc_port() {
  case $1 in
    catalog) echo "$BSS_PORT_CATALOG" ;;
    customer) echo "$BSS_PORT_CUSTOMER" ;;
    order) echo "$BSS_PORT_ORDER" ;;
    billing) echo "$BSS_PORT_BILLING" ;;
    *) die "unknown service $1" ;;
  esac
}

svc_base_path() {
  case $1 in
    catalog) echo /tmf-api/productCatalogManagement/v4 ;;
    customer) echo /tmf-api/customerManagement/v4 ;;
    order) echo /tmf-api/productOrderingManagement/v4 ;;
    billing) echo /tmf-api/customerBillManagement/v4 ;;
  esac
}

# pid_alive PID: the process exists and is not a zombie (PID 1 on some machines does not reap orphans, and
# `run` reaps its own children only asynchronously, so "kill -0" alone would wait for the dead).
pid_dead() { ! pid_alive "$1"; }
pid_alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # the state follows the parenthesised command name
  [[ ${stat:0:1} != Z ]]
}

# has_marker PID: the process belongs to this stack (see STACK_MARKER).
has_marker() {
  grep -qzxF -- "$STACK_MARKER" "/proc/$1/environ" 2>/dev/null
}

# marker_pids: all live processes of this stack that carry the marker.
marker_pids() {
  local f pid
  # One grep over all environ files; unreadable ones (other users, vanished processes) are skipped.
  while IFS= read -r f; do
    pid=${f#/proc/}
    pid=${pid%/environ}
    if [[ $pid != "$$" ]] && pid_alive "$pid"; then echo "$pid"; fi
  done < <(grep -lzxF -- "$STACK_MARKER" /proc/[0-9]*/environ 2>/dev/null || true)
  return 0
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

# http_code PORT PATH [CURL-ARGS...]: the HTTP status of GET http://127.0.0.1:PORT/PATH, 000 when no answer.
# Uses curl when present, else bash's /dev/tcp (extra arguments are then limited to one header "-H X").
http_code() {
  local port=$1 path=$2 code
  shift 2
  if have curl; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "http://127.0.0.1:$port$path") || true
  else
    local header=""
    [[ ${1:-} == -H ]] && header="$2"$'\r\n'
    # shellcheck disable=SC2016 # the inner script expands its own arguments
    code=$(timeout 5 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
      printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n" "$1" "$2" >&3
      read -r _ code _ <&3 && printf "%s" "$code"' "$port" "$path" "$header" 2>/dev/null) || true
  fi
  [[ $code =~ ^[0-9]{3}$ ]] || code=000
  echo "$code"
}

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.25 s until it succeeds.
wait_until() {
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + secs + 1))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || {
      log "timed out after ${secs}s waiting for $what"
      return 1
    }
    sleep 0.25
  done
}

# tail_log FILE [N]: show the last N lines of FILE, from its last "devstack: starting" marker on.
tail_log() {
  local file=$1 n=${2:-40}
  if [[ -f $file ]]; then
    printf -- '----- last lines of %s -----\n' "$file" >&2
    awk '/^===== devstack: starting / { n = 0 } { line[++n] = $0 } END { for (i = 1; i <= n; i++) print line[i] }' \
      "$file" | tail -n "$n" >&2 || true
    printf -- '----- end of %s -----\n' "$file" >&2
  else
    log "no log at $file"
  fi
}

# ----------------------------------------------------------------------------------------------------------
# deps: packages
# ----------------------------------------------------------------------------------------------------------

PG_BIN=""

# find_pg_bin: set PG_BIN to the directory with initdb/pg_ctl/postgres. A cluster that exists already keeps
# the major version it was made with.
find_pg_bin() {
  local ver dir
  ver=$(cat "$PG_LINK/data/PG_VERSION" 2>/dev/null || true)
  if [[ -n $ver && -x /usr/lib/postgresql/$ver/bin/pg_ctl ]]; then
    PG_BIN=/usr/lib/postgresql/$ver/bin
    return 0
  fi
  # initdb in PATH (often a symlink into the real bin directory, which also has psql and pg_isready).
  if have initdb; then
    dir=$(dirname "$(readlink -f "$(command -v initdb)")")
    if [[ -x $dir/pg_ctl && -x $dir/postgres && -x $dir/psql && -x $dir/pg_isready ]]; then
      PG_BIN=$dir
      return 0
    fi
  fi
  # Debian keeps the server programs out of PATH; take the newest major version.
  while IFS= read -r dir; do
    if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres && -x $dir/psql && -x $dir/pg_isready ]]; then
      PG_BIN=$dir
    fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
  [[ -n $PG_BIN ]]
}

# apt_install PKG...: install Debian packages, as root or through password-less sudo; `apt-get update` only
# when the first attempt fails (a fresh machine has no package lists). Returns 1 when apt-get fails and 2
# when we cannot install at all (not root, no password-less sudo, no apt-get).
apt_install() {
  local -a sudo=()
  if ! is_root; then
    if have sudo && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      return 2
    fi
  fi
  have apt-get || return 2
  mkdir -p "$LOG_DIR"
  local aptlog=$LOG_DIR/apt.log
  log "installing $* (apt-get; output in $aptlog)"
  local -a apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
  if ! "${apt[@]}" install --no-install-recommends "$@" >>"$aptlog" 2>&1 </dev/null; then
    "${apt[@]}" update >>"$aptlog" 2>&1 </dev/null || true
    if ! "${apt[@]}" install --no-install-recommends "$@" >>"$aptlog" 2>&1 </dev/null; then
      tail_log "$aptlog" 20
      log "apt-get install $* failed"
      return 1
    fi
  fi
}

cmd_deps() {
  local -a need=() optional=()
  find_pg_bin || need+=(postgresql)
  { have redis-server && have redis-cli; } || need+=(redis-server)
  have curl || optional+=(curl)
  local rc=0
  if ((${#need[@]} > 0)); then
    apt_install "${need[@]}" "${optional[@]}" || rc=$?
    if ((rc == 2)); then
      {
        echo "devstack: missing: ${need[*]}, and this user cannot install packages (not root, no"
        echo "  password-less sudo, or no apt-get). On Debian/Ubuntu, have an administrator run:"
        echo "    sudo apt-get install -y ${need[*]} ${optional[*]}"
        echo "  Elsewhere install the PostgreSQL server (initdb, pg_ctl, postgres, pg_isready, psql; version 15"
        echo "  or later), redis-server and redis-cli (Redis 6 or later); curl is optional."
      } >&2
      exit 1
    fi
    ((rc == 0)) || die "could not install ${need[*]}"
    PG_BIN=""
    find_pg_bin || die "PostgreSQL server binaries still not found after installing postgresql"
    { have redis-server && have redis-cli; } || die "redis-server/redis-cli still not found after installing them"
  elif ((${#optional[@]} > 0)); then
    apt_install "${optional[@]}" || rc=$?
  fi
  if ! have curl; then
    log "curl is missing and could not be installed; HTTP checks use bash /dev/tcp instead"
  fi
  # As root the PostgreSQL programs run as the postgres user, which the Debian package creates.
  if is_root && ! id postgres >/dev/null 2>&1; then
    log "creating the postgres system user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}

# ----------------------------------------------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------------------------------------------

PG_ROOT="" PG_DATA="" PG_RUN=""

# as_pg CMD...: run a PostgreSQL program as the cluster's owner (postgres when we are root).
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# pg_paths: set PG_ROOT/PG_DATA/PG_RUN from an existing directory or symlink (no side effects).
pg_paths() {
  if [[ -L $PG_LINK ]]; then
    PG_ROOT=$(readlink -f "$PG_LINK")
  else
    PG_ROOT=$PG_LINK
  fi
  PG_DATA=$PG_ROOT/data
  PG_RUN=$PG_ROOT/run
}

# pg_prepare_dirs: create the PostgreSQL directory on first use (relocating it when needed, see the header)
# and make it the cluster owner's.
pg_prepare_dirs() {
  if [[ ! -e $PG_LINK && ! -L $PG_LINK ]]; then
    local relocate=""
    # The socket path "<run>/.s.PGSQL.<port>" must fit in 107 bytes.
    ((${#PG_LINK} + 4 + 16 > 100)) && relocate="path too long for a Unix socket"
    if [[ -z $relocate ]] && is_root; then
      mkdir -p "$PG_LINK"
      runuser -u postgres -- test -x "$BSS_DEV_DIR" 2>/dev/null ||
        relocate="the postgres user cannot reach $BSS_DEV_DIR"
      if [[ -n $relocate ]]; then rmdir "$PG_LINK"; fi
    fi
    if [[ -n $relocate ]]; then
      local alt
      alt=/var/tmp/bss-dev-pg-$(printf '%s' "$BSS_DEV_DIR" | cksum | cut -d' ' -f1)
      log "PostgreSQL directory relocated to $alt ($relocate)"
      mkdir -p "$alt"
      ln -sfn "$alt" "$PG_LINK"
    fi
  fi
  pg_paths
  mkdir -p "$PG_ROOT" "$PG_RUN"
  chmod 700 "$PG_ROOT" "$PG_RUN"
  if is_root; then
    chown postgres: "$PG_ROOT" "$PG_RUN"
    runuser -u postgres -- test -w "$PG_ROOT" 2>/dev/null ||
      die "the postgres user cannot write $PG_ROOT; check the permissions of its parent directories"
  fi
}

pg_running() {
  [[ -f $PG_DATA/PG_VERSION ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

pg_ready() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$BSS_PG_PORT"
}

# psql_admin ARGS...: psql as the cluster superuser over the private Unix socket (trust authentication).
psql_admin() {
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$BSS_PG_PORT" -U postgres -d postgres "$@"
}

# pg_write_conf: (re)write the settings this stack needs; prints "changed" when the file changed.
pg_write_conf() {
  local conf=$PG_DATA/bss-dev.conf tmp
  tmp=$(mktemp)
  cat >"$tmp" <<EOF
# Written by scripts/devstack.sh on every infra-up; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $BSS_PG_PORT
unix_socket_directories = '$PG_RUN'
unix_socket_permissions = 0700
# The tests run many services and test databases at once, each with its own pool.
max_connections = 500
# A throw-away dev/test cluster: durability is traded for speed. Never copy these three into production.
fsync = off
synchronous_commit = off
full_page_writes = off
# Same clock for everyone; the services write RFC 3339 UTC anyway.
timezone = 'UTC'
log_timezone = 'UTC'
# Logs go to stderr, which pg_ctl start sends to $PG_LOG.
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  if cmp -s "$tmp" "$conf" 2>/dev/null; then
    rm -f "$tmp"
    return 0
  fi
  cat "$tmp" >"$conf"
  rm -f "$tmp"
  if is_root; then chown postgres: "$conf"; fi
  chmod 600 "$conf"
  echo changed
}

pg_up() {
  pg_prepare_dirs
  touch "$PG_LOG"

  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    # No cluster (or a half-made one from an interrupted initdb): make a new one.
    as_pg rm -rf "$PG_DATA"
    log "initialising PostgreSQL cluster in $PG_DATA"
    # trust on the private socket (only the cluster owner can reach it), passwords over TCP.
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale \
      --auth-local=trust --auth-host=scram-sha-256 --no-sync >>"$PG_LOG" 2>&1 </dev/null; then
      tail_log "$PG_LOG"
      die "initdb failed"
    fi
    printf "\n# Local dev stack settings (scripts/devstack.sh)\ninclude_if_exists = 'bss-dev.conf'\n" \
      >>"$PG_DATA/postgresql.conf"
  fi

  local changed
  changed=$(pg_write_conf)
  if pg_running; then
    if [[ $changed == changed ]]; then
      log "PostgreSQL settings changed; restarting it"
      as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 restart >>"$PG_LOG" 2>&1 </dev/null ||
        { tail_log "$PG_LOG"; die "PostgreSQL restart failed"; }
    fi
  else
    port_open "$BSS_PG_PORT" && die "port $BSS_PG_PORT is in use by another process (set BSS_PG_PORT)"
    log "starting PostgreSQL on 127.0.0.1:$BSS_PG_PORT"
    # pg_ctl detaches the server (own session); its stdout/stderr stay on the log file opened here.
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t 60 start >>"$PG_LOG" 2>&1 </dev/null ||
      { tail_log "$PG_LOG"; die "PostgreSQL did not start"; }
  fi
  wait_until 30 "PostgreSQL on port $BSS_PG_PORT" pg_ready || { tail_log "$PG_LOG"; die "PostgreSQL not ready"; }

  # Role and database for the services (superuser: tests create and drop their own databases).
  psql_admin <<'SQL' || die "could not create the bss role/database"
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bss') THEN
    CREATE ROLE bss LOGIN CREATEDB SUPERUSER PASSWORD 'bss';
  END IF;
END
$$;
SELECT 'CREATE DATABASE bss OWNER bss' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bss')
\gexec
SQL
}

pg_down() {
  pg_paths
  [[ -f $PG_DATA/PG_VERSION ]] || return 0
  find_pg_bin || die "PostgreSQL binaries not found (run: scripts/devstack.sh deps)"
  pg_running || return 0
  log "stopping PostgreSQL"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >>"$PG_LOG" 2>&1 </dev/null; then
    log "fast shutdown failed; trying immediate"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >>"$PG_LOG" 2>&1 </dev/null || true
  fi
  ! pg_running || die "PostgreSQL did not stop (see $PG_LOG)"
}

# ----------------------------------------------------------------------------------------------------------
# Redis
# ----------------------------------------------------------------------------------------------------------

redis_cli() { redis-cli -h 127.0.0.1 -p "$BSS_REDIS_PORT" "$@"; }
redis_ping() { [[ $(redis_cli ping 2>/dev/null) == PONG ]]; }
redis_pid() {
  local pid
  pid=$(cat "$REDIS_PIDFILE" 2>/dev/null) || return 1
  pid_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]] && echo "$pid"
}

# redis_is_ours: the Redis answering on our port works in our directory.
redis_is_ours() {
  local dir
  dir=$(redis_cli config get dir 2>/dev/null | sed -n 2p)
  [[ -n $dir && $dir == "$(cd "$REDIS_DIR" && pwd -P)" ]]
}

redis_up() {
  mkdir -p "$REDIS_DIR"
  if redis_ping; then
    redis_is_ours || die "port $BSS_REDIS_PORT is used by another Redis (set BSS_REDIS_PORT)"
    return 0
  fi
  port_open "$BSS_REDIS_PORT" && die "port $BSS_REDIS_PORT is in use by another process (set BSS_REDIS_PORT)"
  log "starting Redis on 127.0.0.1:$BSS_REDIS_PORT"
  # No persistence by default: the stack's Redis holds streams, caches and idempotency keys for tests only.
  # BSS_REDIS_APPENDONLY=yes (make chaos) persists like the Helm chart's Redis, so a restart keeps the streams.
  redis-server --bind 127.0.0.1 --port "$BSS_REDIS_PORT" --protected-mode yes \
    --daemonize yes --pidfile "$REDIS_PIDFILE" --dir "$REDIS_DIR" --logfile "$REDIS_LOG" \
    --appendonly "$BSS_REDIS_APPENDONLY" --save '' >/dev/null 2>&1 </dev/null ||
    { tail_log "$REDIS_LOG"; die "redis-server did not start"; }
  wait_until 20 "Redis on port $BSS_REDIS_PORT" redis_ping || { tail_log "$REDIS_LOG"; die "Redis not ready"; }
}

redis_down() {
  local pid=""
  pid=$(redis_pid) || pid=""
  if [[ -z $pid ]] && redis_ping && redis_is_ours; then
    pid=$(redis_cli info server 2>/dev/null | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
  fi
  [[ -n $pid ]] || {
    rm -f "$REDIS_PIDFILE"
    return 0
  }
  log "stopping Redis"
  redis_cli shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until 10 "Redis to stop" pid_dead "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$REDIS_PIDFILE"
}

# ----------------------------------------------------------------------------------------------------------
# Stack environment
# ----------------------------------------------------------------------------------------------------------

ensure_jwt_secret() {
  mkdir -p "$BSS_DEV_DIR"
  if [[ ! -s $JWT_FILE ]]; then
    (
      umask 077
      od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$JWT_FILE"
    )
  fi
  chmod 600 "$JWT_FILE"
}

# The variables `env` prints (stack_env sets them).
ENV_NAMES=(DATABASE_URL REDIS_URL JWT_SECRET JWT_ISSUER JWT_AUDIENCE RUST_LOG
  CATALOG_URL CUSTOMER_URL ORDER_URL BILLING_URL)

# stack_env: set and export the variables the services and tests use.
stack_env() {
  ensure_jwt_secret
  export DATABASE_URL="postgres://bss:bss@127.0.0.1:$BSS_PG_PORT/bss"
  export REDIS_URL="redis://127.0.0.1:$BSS_REDIS_PORT"
  JWT_SECRET=$(cat "$JWT_FILE")
  export JWT_SECRET
  export JWT_ISSUER=bss-oss-local
  export JWT_AUDIENCE=bss-oss
  export RUST_LOG=${RUST_LOG:-info}
  export CATALOG_URL="http://127.0.0.1:$BSS_PORT_CATALOG"
  export CUSTOMER_URL="http://127.0.0.1:$BSS_PORT_CUSTOMER"
  export ORDER_URL="http://127.0.0.1:$BSS_PORT_ORDER"
  export BILLING_URL="http://127.0.0.1:$BSS_PORT_BILLING"
}

cmd_env() {
  stack_env
  local name
  for name in "${ENV_NAMES[@]}"; do
    printf 'export %s=%q\n' "$name" "${!name}"
  done
}

# ----------------------------------------------------------------------------------------------------------
# Build and token
# ----------------------------------------------------------------------------------------------------------

cmd_build() {
  log "cargo build --bins"
  (cd "$REPO" && cargo build --bins)
  local svc
  for svc in "${SERVICES[@]}"; do
    [[ -x $BSS_BIN_DIR/$svc ]] || die "cargo build did not produce $BSS_BIN_DIR/$svc"
  done
}

cmd_token() {
  stack_env
  local bin=$BSS_BIN_DIR/bss-dev
  if [[ ! -x $bin ]]; then
    log "building bss-dev"
    (cd "$REPO" && cargo build -q -p bss-dev) >&2 || die "could not build bss-dev"
    [[ -x $bin ]] || die "$bin not found after building bss-dev"
  fi
  local -a args=(token)
  [[ -n ${SCOPES:-} ]] && args+=(--scopes "$SCOPES")
  "$bin" "${args[@]}"
}

# ----------------------------------------------------------------------------------------------------------
# Services
# ----------------------------------------------------------------------------------------------------------

# svc_pid SVC: print the pid of the running service SVC (from its pid file, checked to be ours).
svc_pid() {
  local pid
  pid=$(cat "$PID_DIR/$1.pid" 2>/dev/null) || return 1
  pid_alive "$pid" || return 1
  if [[ -r /proc/$pid/environ ]]; then
    has_marker "$pid"
  else
    grep -qF "$1" "/proc/$pid/cmdline" 2>/dev/null
  fi || return 1
  echo "$pid"
}

svc_ready() { [[ $(http_code "$(svc_port "$1")" /ready) == 200 ]]; }

# svc_start SVC: start SVC in the background unless it runs already.
svc_start() {
  local svc=$1 port bin pidfile logfile pid
  port=$(svc_port "$svc")
  bin=$BSS_BIN_DIR/$svc
  pidfile=$PID_DIR/$svc.pid
  logfile=$LOG_DIR/$svc.log
  if pid=$(svc_pid "$svc"); then
    if svc_ready "$svc"; then
      log "$svc already running (pid $pid) and ready"
    else
      log "$svc already running (pid $pid), not ready yet"
    fi
    return 0
  fi
  rm -f "$pidfile"
  [[ -x $bin ]] || die "$bin not found (run: scripts/devstack.sh build)"
  port_open "$port" && die "port $port ($svc) is in use by another process (set BSS_PORT_${svc^^})"
  printf '\n===== devstack: starting %s on port %s at %s =====\n' "$svc" "$port" "$(date -u +%FT%TZ)" >>"$logfile"
  # No load balancer in front of the local services: a 1 s drain (default 5 s) keeps `down` quick.
  # setsid: the service gets its own session, so a Ctrl-C in the terminal reaches only this script, which
  # then stops the services in order. The inner shell records its pid and becomes the service (exec).
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  # BIND_ADDRESS: the local services answer on loopback only (in containers they listen on every interface).
  # HUB_ALLOW_PRIVATE_CALLBACKS: /hub listeners of a local stack live on this machine, so loopback callbacks are allowed.
  env "$STACK_MARKER" PORT="$port" BIND_ADDRESS=127.0.0.1 HUB_ALLOW_PRIVATE_CALLBACKS=true FULFILMENT_MODE=auto SHUTDOWN_DRAIN_SECS="${SHUTDOWN_DRAIN_SECS:-1}" \
    setsid bash -c 'echo $$ >"$0"; exec "$1"' "$pidfile" "$bin" >>"$logfile" 2>&1 </dev/null &
  wait_until 10 "$svc pid file" test -s "$pidfile" || die "$svc did not start"
  log "started $svc (pid $(cat "$pidfile"), port $port, log $logfile)"
}

# wait_services_ready: wait until every service answers 200 on /ready; on failure show the logs.
wait_services_ready() {
  local deadline=$((SECONDS + BSS_READY_TIMEOUT)) svc
  local -a pending=("${SERVICES[@]}") still failed=()
  log "waiting for /ready (up to ${BSS_READY_TIMEOUT}s): ${pending[*]}"
  while ((${#pending[@]} > 0)); do
    still=()
    for svc in "${pending[@]}"; do
      if ! svc_pid "$svc" >/dev/null; then
        log "$svc exited during start-up"
        failed+=("$svc")
      elif ! svc_ready "$svc"; then
        still+=("$svc")
      fi
    done
    pending=("${still[@]}")
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      log "not ready after ${BSS_READY_TIMEOUT}s: ${pending[*]}"
      failed+=("${pending[@]}")
      break
    fi
    sleep 0.5
  done
  if ((${#failed[@]} > 0)); then
    for svc in "${failed[@]}"; do tail_log "$LOG_DIR/$svc.log"; done
    log "failed: ${failed[*]} (stop the rest with: scripts/devstack.sh down)"
    return 1
  fi
}

print_summary() {
  local svc port tok rel_logs
  rel_logs=${LOG_DIR#"$REPO"/}
  echo
  printf '  %-9s %s\n' service URL
  for svc in "${SERVICES[@]}"; do
    port=$(svc_port "$svc")
    printf '  %-9s http://127.0.0.1:%s%s\n' "$svc" "$port" "$(svc_base_path "$svc")"
  done
  echo
  echo "  probes:   http://127.0.0.1:<port>/{health,ready,live,metrics}"
  echo "  logs:     $rel_logs/<service>.log   (postgres.log, redis.log beside them)"
  echo "  postgres: postgres://bss:bss@127.0.0.1:$BSS_PG_PORT/bss    redis: redis://127.0.0.1:$BSS_REDIS_PORT"
  echo "  env:      eval \"\$(scripts/devstack.sh env)\""
  if tok=$(cmd_token 2>/dev/null) && [[ -n $tok ]]; then
    echo "  token:    $tok"
  else
    echo "  token:    (bss-dev token failed; try: scripts/devstack.sh token)"
  fi
  echo
}

cmd_up() {
  cmd_deps
  cmd_infra_up
  if [[ ${BSS_SKIP_BUILD:-0} == 1 ]]; then
    log "BSS_SKIP_BUILD=1: using the binaries in $BSS_BIN_DIR as they are"
  else
    cmd_build
  fi
  stack_env
  mkdir -p "$LOG_DIR" "$PID_DIR"
  local svc
  for svc in "${SERVICES[@]}"; do svc_start "$svc"; done
  wait_services_ready || exit 1
  print_summary
}

# stop_pids TIMEOUT PID...: SIGTERM, wait up to TIMEOUT seconds, then SIGKILL what is left.
stop_pids() {
  local timeout=$1 pid deadline
  shift
  (($# > 0)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  deadline=$((SECONDS + timeout + 1))
  while :; do
    local -a alive=()
    for pid in "$@"; do pid_alive "$pid" && alive+=("$pid"); done
    ((${#alive[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      log "still running after ${timeout}s, killing: ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      return 0
    fi
    set -- "${alive[@]}"
    sleep 0.25
  done
}

stop_services() {
  local svc pid
  local -a pids=()
  for svc in "${SERVICES[@]}"; do
    if pid=$(svc_pid "$svc"); then
      log "stopping $svc (pid $pid)"
      pids+=("$pid")
    fi
  done
  # Anything else of this stack (a service whose pid file was lost, the log follower of `run`).
  for pid in $(marker_pids); do
    [[ " ${pids[*]} " == *" $pid "* ]] || pids+=("$pid")
  done
  stop_pids "$BSS_STOP_TIMEOUT" "${pids[@]}"
  for svc in "${SERVICES[@]}"; do rm -f "$PID_DIR/$svc.pid"; done
}

cmd_down() {
  stop_services
  cmd_infra_down
}

# ----------------------------------------------------------------------------------------------------------
# run: foreground with logs
# ----------------------------------------------------------------------------------------------------------

TAIL_PID=""

run_cleanup() {
  local rc=$?
  # A second Ctrl-C must not interrupt the shutdown, and neither must a closed terminal or pipe
  # (`make run | tee x`: Ctrl-C also ends tee, and our next message would raise SIGPIPE).
  trap '' INT TERM HUP PIPE
  trap - EXIT
  set +e
  echo >&2
  log "stopping the stack"
  [[ -n $TAIL_PID ]] && kill "$TAIL_PID" 2>/dev/null
  cmd_down || rc=1
  exit "$rc"
}

cmd_run() {
  trap run_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  cmd_up
  local -a files=()
  local svc
  for svc in "${SERVICES[@]}"; do files+=("$LOG_DIR/$svc.log"); done
  log "following the service logs; Ctrl-C stops the whole stack"
  # One tail for the four logs; awk turns tail's "==> file <==" headers into a per-line prefix.
  # mawk (Debian's default awk) reads a pipe in blocks unless told to be interactive.
  local -a awk=(awk)
  if [[ $(awk -W version 2>&1 || true) == *mawk* ]]; then awk=(awk -W interactive); fi
  # shellcheck disable=SC2016 # awk program
  env "$STACK_MARKER" tail -n 20 -F "${files[@]}" 2>/dev/null > >(
    env "$STACK_MARKER" "${awk[@]}" '
      /^==> .* <==$/ { n = split($2, p, "/"); name = p[n]; sub(/\.log$/, "", name); next }
      /^$/ { next }
      { printf "%-8s | %s\n", name, $0; fflush() }'
  ) &
  TAIL_PID=$!
  local -A reported=()
  while pid_alive "$TAIL_PID"; do
    sleep 1 &
    wait $! || true
    for svc in "${SERVICES[@]}"; do
      if [[ -z ${reported[$svc]:-} ]] && ! svc_pid "$svc" >/dev/null; then
        log "$svc has exited (see its log); the others keep running"
        reported[$svc]=1
      fi
    done
  done
}

# ----------------------------------------------------------------------------------------------------------
# infra, status, test, clean
# ----------------------------------------------------------------------------------------------------------

cmd_infra_up() {
  find_pg_bin || die "PostgreSQL server binaries not found (run: scripts/devstack.sh deps)"
  have redis-server || die "redis-server not found (run: scripts/devstack.sh deps)"
  mkdir -p "$BSS_DEV_DIR" "$LOG_DIR" "$PID_DIR" "$REDIS_DIR"
  ensure_jwt_secret
  pg_up
  redis_up
}

cmd_infra_down() {
  redis_down
  pg_down
}

cmd_status() {
  local svc pid port code
  pg_paths
  if [[ -f $PG_DATA/PG_VERSION ]] && find_pg_bin && pg_running; then
    pid=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo '?')
    printf '%-9s running  pid %-8s 127.0.0.1:%s  data %s\n' postgres "$pid" "$BSS_PG_PORT" "$PG_DATA"
  else
    printf '%-9s stopped\n' postgres
  fi
  if pid=$(redis_pid); then
    printf '%-9s running  pid %-8s 127.0.0.1:%s\n' redis "$pid" "$BSS_REDIS_PORT"
  else
    printf '%-9s stopped\n' redis
  fi
  for svc in "${SERVICES[@]}"; do
    port=$(svc_port "$svc")
    if pid=$(svc_pid "$svc"); then
      code=$(http_code "$port" /ready)
      printf '%-9s running  pid %-8s 127.0.0.1:%s  /ready %s\n' "$svc" "$pid" "$port" "$code"
    else
      printf '%-9s stopped\n' "$svc"
    fi
  done
  local others
  others=$(marker_pids | tr '\n' ' ')
  [[ -n $others ]] && printf 'processes of this stack: %s\n' "$others"
  return 0
}

# ensure_nextest: cargo-nextest from crates.io when missing. There is no fallback to `cargo test`: the suite
# relies on nextest running each test in its own process (docs/adr/0008-test-harness.md).
ensure_nextest() {
  cargo nextest --version >/dev/null 2>&1 && return 0
  log "cargo-nextest missing; installing it with cargo install --locked cargo-nextest"
  cargo install --locked cargo-nextest >&2 && return 0
  die "could not install cargo-nextest; install it (cargo install --locked cargo-nextest) and run again"
}

drop_test_databases() {
  local dbs db
  dbs=$(psql_admin -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'test\_%'") ||
    die "could not list databases"
  for db in $dbs; do
    psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || die "could not drop $db"
  done
  [[ -z $dbs ]] || log "dropped $(wc -w <<<"$dbs") leftover test database(s)"
}

cmd_test() {
  cmd_deps
  cmd_infra_up
  drop_test_databases
  stack_env
  local rc_unit=0 rc_life=0 rc_backup=0 rc_sdk=0
  cd "$REPO"
  ensure_nextest
  log "cargo nextest run --workspace --no-fail-fast $*"
  cargo nextest run --workspace --no-fail-fast "$@" || rc_unit=$?
  log "scripts/test-stack-lifecycle.sh"
  bash "$REPO/scripts/test-stack-lifecycle.sh" || rc_life=$?
  log "scripts/test-backup-restore.sh"
  bash "$REPO/scripts/test-backup-restore.sh" || rc_backup=$?
  log "scripts/test-sdk.sh"
  bash "$REPO/scripts/test-sdk.sh" || rc_sdk=$?
  outcome() { if [[ $1 == 0 ]]; then echo passed; else echo "FAILED (exit $1)"; fi; }
  log "workspace tests: $(outcome $rc_unit); stack lifecycle: $(outcome $rc_life);" \
    "backup and restore: $(outcome $rc_backup); SDKs: $(outcome $rc_sdk)"
  ((rc_unit == 0 && rc_life == 0 && rc_backup == 0 && rc_sdk == 0))
}

cmd_clean() {
  cmd_down
  if [[ -L $PG_LINK ]]; then
    local target
    target=$(readlink -f "$PG_LINK")
    [[ $target == /var/tmp/bss-dev-pg-* ]] && rm -rf "$target"
  fi
  log "removing $BSS_DEV_DIR"
  rm -rf "$BSS_DEV_DIR"
}

usage() {
  sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
}

main() {
  local cmd=${1:-help}
  (($# > 0)) && shift
  case $cmd in
    deps) cmd_deps ;;
    apt-install) apt_install "$@" ;;
    infra-up) cmd_infra_up ;;
    infra-down) cmd_infra_down ;;
    pg-restart) pg_down && pg_up ;;
    redis-restart) redis_down && redis_up ;;
    env) cmd_env ;;
    build) cmd_build ;;
    up) cmd_up ;;
    run) cmd_run ;;
    down) cmd_down ;;
    status) cmd_status ;;
    token) cmd_token ;;
    test) cmd_test "$@" ;;
    clean) cmd_clean ;;
    help | -h | --help) usage ;;
    *) die "unknown command: $cmd (commands: scripts/devstack.sh help)" ;;
  esac
}

main "$@"
