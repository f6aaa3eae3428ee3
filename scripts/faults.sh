#!/usr/bin/env bash
# The fault suite (issue 16): the production shape — scripts/dev-cluster.sh, every service its
# own process, on a PostgreSQL cluster and a Redis of the suite's own (fresh each run, so the
# machine's shared 5432 and 6379 are never stopped) — under load while faults happen, then one
# table: scenario | acknowledged | present | lost | doubled | 5xx | other errors | verdict.
# Exits non-zero when a row fails (a lost or doubled claim, a 5xx other than 503, a ledger
# that does not reconcile, supervision not counting each settled claim once, …).
#
#   scripts/faults.sh            the full form
#   scripts/faults.sh --short    the short form (a few minutes on 2 cores; scripts/test.sh runs it)
#   scripts/faults.sh … --only a,c   some rows only;  --keep  leave the cluster running after
#   scripts/faults.sh hook …     the faults themselves, as the driver asks for them (below)
#
# Rows (full form / short form), each settling claims of its own institution through the
# gateway's REST API, each claim with its encounter number as Idempotency-Key and retried with
# it after a 5xx/409/no answer, as a hospital system would:
#   a. settlement killed with SIGKILL 20 / 3 times under 64 / 16 callers (restarted 0.5 s later)
#   b. Redis SIGKILLed for 30 / 5 s under load and started again, once with an empty data
#      directory and once with its append-only file: requests sent meanwhile must all settle
#   c. PostgreSQL stopped (fast shutdown) for 10 / 5 s under load and started again: refusals
#      must be 503, never a 500 or a hang, and settling must resume without restarting anything
#   d. one settlement sent 10,000 / 1,000 times with one key, 100 at a time: one claim
#   e. REPLICAS=2 (two of every service and two gateways on the same databases and Redis),
#      the callers alternating between the gateways, for 30 / 10 s; split-hospitalisation
#      pairs (30 / 10) settled before the second replicas start and as many with them, each
#      to be found once by supervision either way
#   f. no ID number the suite sent appears in any log of the cluster
#   g. scripts/schemathesis.sh against the gateway, when that script exists
# After each of a–e: every acknowledged claim is read back (GetClaim: same encounter, settled,
# same basic-pool payment), no encounter has two claims (ListClaims), ReconcileLedger balances
# for the month, and supervision's spending of the institution (GetBudgetStatus) equals the
# basic-pool payments of its settled claims within 120 s.
#
# Variables:
#   YIBAO_BIN_DIR  the service binaries and yibao-load (default: `cargo build --bins`, then
#                  target/debug); they are hard-linked into data/faults/bin for the run, so a
#                  rebuild meanwhile does not change what restarts
#   FAULTS_DIR     default data/faults: pg/ (the PostgreSQL cluster), redis/, cluster/ (the dev
#                  cluster's pids, keys and logs), bin/
#   FAULTS_PG_PORT 5544   FAULTS_REDIS_PORT 6544   FAULTS_PORT_OFFSET 200 (gateway 8288, 8289;
#                  services 7261–7265, 7271–7275)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FAULTS_DIR=${FAULTS_DIR:-$ROOT/data/faults}
PG_PORT=${FAULTS_PG_PORT:-5544}
REDIS_PORT=${FAULTS_REDIS_PORT:-6544}
PGDATA_DIR=$FAULTS_DIR/pg
REDIS_DIR=$FAULTS_DIR/redis
export PORT_OFFSET=${FAULTS_PORT_OFFSET:-200}
export DEV_CLUSTER_DIR=$FAULTS_DIR/cluster
export PG_URL=postgres://postgres@127.0.0.1:$PG_PORT
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export DB_PREFIX=faults
GATEWAY=http://127.0.0.1:$((8088 + PORT_OFFSET))
GATEWAY2=http://127.0.0.1:$((8089 + PORT_OFFSET))

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'faults: %s\n' "$*" >&2; exit 1; }

# ---- the suite's PostgreSQL -------------------------------------------------------------------

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -n "$d" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)"
  echo "$d"
}

as_postgres() { # PostgreSQL refuses to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ctl_() { as_postgres "$(pg_bin)/pg_ctl" -D "$PGDATA_DIR" "$@"; }

pg_running() { [ -f "$PGDATA_DIR/postmaster.pid" ] && pg_ctl_ status >/dev/null 2>&1; }

pg_init() {
  if [ -d "$PGDATA_DIR" ] && pg_running; then pg_ctl_ -m immediate -w stop >/dev/null; fi
  rm -rf "$PGDATA_DIR"
  mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$PGDATA_DIR"
  log "initdb $PGDATA_DIR (port $PG_PORT)"
  as_postgres "$(pg_bin)/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 >/dev/null
  cat >>"$PGDATA_DIR/postgresql.conf" <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
EOF
}

pg_start() { pg_ctl_ -l "$PGDATA_DIR/server.log" -w -t 60 start >/dev/null; }
pg_stop() { pg_ctl_ -m fast -w -t 60 stop >/dev/null; }

# ---- the suite's Redis ------------------------------------------------------------------------

redis_pid() { cat "$FAULTS_DIR/redis.pid" 2>/dev/null || true; }

redis_start() { # redis_start empty|data
  [ "${1:-data}" = empty ] && rm -rf "$REDIS_DIR"
  mkdir -p "$REDIS_DIR"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
    --appendonly yes --appendfsync everysec --save "" --daemonize yes \
    --pidfile "$FAULTS_DIR/redis.pid" --logfile "$FAULTS_DIR/redis.log" >/dev/null
  for _ in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "Redis did not answer on $REDIS_PORT (see $FAULTS_DIR/redis.log)"
}

redis_kill() {
  local pid
  pid=$(redis_pid)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || die "the suite's Redis is not running"
  kill -KILL "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.05
  done
  rm -f "$FAULTS_DIR/redis.pid"
}

# ---- hooks: the faults the driver asks for ----------------------------------------------------

hook() {
  local what=${1:-}
  shift || true
  case $what in
    kill9 | start | restart) scripts/dev-cluster.sh "$what" "$@" ;;
    replicas-up) REPLICAS=2 scripts/dev-cluster.sh up ;;
    redis-kill) redis_kill ;;
    redis-start) redis_start "${1:-data}" ;;
    pg-stop) pg_stop ;;
    pg-start) pg_start ;;
    *) die "unknown hook '$what' (kill9|start|restart NAME, replicas-up, redis-kill, redis-start empty|data, pg-stop, pg-start)" ;;
  esac
}

# ---- the run ----------------------------------------------------------------------------------

binaries() {
  local src=${YIBAO_BIN_DIR:-} b
  if [ -z "$src" ]; then
    log "cargo build --bins (debug)"
    cargo build --bins >&2
    src=${CARGO_TARGET_DIR:-$ROOT/target}/debug
  fi
  rm -rf "$FAULTS_DIR/bin"
  mkdir -p "$FAULTS_DIR/bin"
  for b in yibao yibao-gateway yibao-enrollment yibao-settlement yibao-ltc yibao-procurement yibao-supervision yibao-load; do
    [ -x "$src/$b" ] || die "$src/$b is missing (cargo build --bins, or set YIBAO_BIN_DIR)"
    ln -f "$src/$b" "$FAULTS_DIR/bin/$b" 2>/dev/null || cp "$src/$b" "$FAULTS_DIR/bin/$b"
  done
  export YIBAO_BIN_DIR=$FAULTS_DIR/bin
}

cleanup() {
  if [ "$KEEP" = 1 ]; then
    log "left running (--keep): gateway $GATEWAY; stop with: DEV_CLUSTER_DIR=$DEV_CLUSTER_DIR scripts/dev-cluster.sh down; $(pg_bin)/pg_ctl -D $PGDATA_DIR stop; kill \$(cat $FAULTS_DIR/redis.pid)"
    return
  fi
  scripts/dev-cluster.sh down >/dev/null 2>&1 || true
  local pid
  pid=$(redis_pid)
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  pg_running && pg_stop || true
}

main() {
  local form=() pass=()
  KEEP=0
  while [ $# -gt 0 ]; do
    case $1 in
      --short) form=(--short) ;;
      --full) form=() ;;
      --keep) KEEP=1 ;;
      *) pass+=("$1") ;;
    esac
    shift
  done
  command -v redis-server >/dev/null && command -v psql >/dev/null \
    || die "needs redis-server and psql (Debian: apt-get install redis-server postgresql)"
  mkdir -p "$FAULTS_DIR"
  binaries
  trap cleanup EXIT
  scripts/dev-cluster.sh down >/dev/null 2>&1 || true
  [ -n "$(redis_pid)" ] && kill -KILL "$(redis_pid)" 2>/dev/null || true
  rm -rf "$DEV_CLUSTER_DIR"
  pg_init
  pg_start
  redis_start empty
  scripts/dev-cluster.sh up >&2
  local rc=0
  "$YIBAO_BIN_DIR/yibao-load" faults "${form[@]}" --gateway "$GATEWAY" --gateway2 "$GATEWAY2" \
    --cluster-dir "$DEV_CLUSTER_DIR" --hooks "$ROOT/scripts/faults.sh" "${pass[@]}" || rc=$?
  return "$rc"
}

if [ "${1:-}" = hook ]; then
  shift
  hook "$@"
else
  main "$@"
fi
