#!/usr/bin/env bash
# A production-shaped cluster on one machine: every service as its own process on PostgreSQL
# (a database each) and Redis, the gateway in front, configured with the same YIBAO__… keys
# the Kubernetes manifests use.
#
#   scripts/dev-cluster.sh up [--build]   build if binaries are missing (or --build), start, wait for /readyz
#   scripts/dev-cluster.sh status         which processes run, and each gateway's /readyz
#   scripts/dev-cluster.sh down           stop them (SIGTERM, then SIGKILL after 10 s)
#   scripts/dev-cluster.sh kill9 NAME     SIGKILL one process (no drain), e.g. settlement, gateway, ltc-2
#   scripts/dev-cluster.sh start NAME     start one stopped process as `up` does; wait for its port
#   scripts/dev-cluster.sh restart NAME   stop one process (SIGTERM, drained) and start it again
#
# Ports: enrollment 7061, settlement 7062, ltc 7063, procurement 7064, supervision 7065,
# gateway 8088, each plus PORT_OFFSET; a service's /metrics on its port + 3000 (10061…). With REPLICAS=2 a second copy of every process runs on
# the same databases and Redis: NAME-2 on the service port + 10 (7071…7075), gateway-2 on the
# gateway port + 1 (8089); replica k's gateway and services call replica k's services (the
# upstream configuration takes one address per service). Pids and logs: DEV_CLUSTER_DIR
# (default data/dev-cluster). With the default PG_URL and REDIS_URL, PostgreSQL
# 127.0.0.1:5432 (trust auth, user postgres) and Redis 127.0.0.1:6379 are started if they are
# not running; other URLs must be reachable already.
#
# Variables:
#   DEV_CLUSTER_DIR  pids, logs, keys (default data/dev-cluster)
#   JWKS_FILE   the token-verification keys (default $DEV_CLUSTER_DIR/jwks.json). Unless it
#               exists, `$YIBAO_BIN_DIR/yibao keys --data-dir $DEV_CLUSTER_DIR` writes it with
#               $DEV_CLUSTER_DIR/dev-signing-key.pem.
#   PG_URL      server URL without database (default postgres://postgres@127.0.0.1:5432)
#   DB_PREFIX   databases are <prefix>_<service> (default yibao)
#   YIBAO_BIN_DIR  where the binaries are (default target/release, which `up --build` fills)
#   REDIS_URL   default redis://127.0.0.1:6379/0
#   REPLICAS    processes per service and gateways (1 or 2; default 1)
#   PORT_OFFSET added to every port (default 0; keep ports below 32768, Linux's ephemeral range)
#   OTLP_ENDPOINT  empty (default) = no trace export
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIR=${DEV_CLUSTER_DIR:-$ROOT/data/dev-cluster}
BIN=${YIBAO_BIN_DIR:-$ROOT/target/release}
DB_PREFIX=${DB_PREFIX:-yibao}
JWKS_FILE=${JWKS_FILE:-$DIR/jwks.json}
DEFAULT_PG_URL=postgres://postgres@127.0.0.1:5432
DEFAULT_REDIS_URL=redis://127.0.0.1:6379/0
PG_URL=${PG_URL:-$DEFAULT_PG_URL}
REDIS_URL=${REDIS_URL:-$DEFAULT_REDIS_URL}
OTLP_ENDPOINT=${OTLP_ENDPOINT:-}
REPLICAS=${REPLICAS:-1}
PORT_OFFSET=${PORT_OFFSET:-0}
GATEWAY_PORT=$((8088 + PORT_OFFSET))

SERVICES=(enrollment settlement ltc procurement supervision)
declare -A PORT=([enrollment]=7061 [settlement]=7062 [ltc]=7063 [procurement]=7064 [supervision]=7065)
BINARIES=(yibao yibao-gateway yibao-enrollment yibao-settlement yibao-ltc yibao-procurement yibao-supervision)

log() { printf '==> %s\n' "$*"; }
die() { printf 'dev-cluster: %s\n' "$*" >&2; exit 1; }

case $REPLICAS in 1 | 2) ;; *) die "REPLICAS must be 1 or 2 (got $REPLICAS)" ;; esac

# name SERVICE REPLICA: the process name (settlement, settlement-2, gateway, gateway-2).
name() { if [ "$2" = 1 ]; then echo "$1"; else echo "$1-$2"; fi; }
# service_port SERVICE REPLICA
service_port() { echo $((PORT[$1] + PORT_OFFSET + 10 * ($2 - 1))); }
gateway_port() { echo $((GATEWAY_PORT + $1 - 1)); }
upstream() { echo "http://127.0.0.1:$(service_port "$1" "$2")"; }

# parse NAME: sets P_SERVICE (a service or gateway) and P_REPLICA, or fails.
parse() {
  local base=$1 replica=1
  if [[ $1 =~ ^(.+)-([0-9]+)$ ]]; then base=${BASH_REMATCH[1]} replica=${BASH_REMATCH[2]}; fi
  case $replica in 1 | 2) ;; *) die "unknown process $1 (replicas are 1 and 2)" ;; esac
  if [ "$base" != gateway ] && [ -z "${PORT[$base]:-}" ]; then
    die "unknown process $1 (one of: ${SERVICES[*]} gateway, with -2 for the second replica)"
  fi
  P_SERVICE=$base P_REPLICA=$replica
}

running() { # running NAME: the process recorded in NAME.pid is alive
  local pidfile=$DIR/$1.pid
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# shellcheck source=scripts/services.sh
. "$ROOT/scripts/services.sh"

ensure_postgres_and_redis() {
  if [ "$PG_URL" = "$DEFAULT_PG_URL" ] || [ "$REDIS_URL" = "$DEFAULT_REDIS_URL" ]; then
    ensure_services || die "PostgreSQL and Redis are needed"
  fi
  psql "$PG_URL/postgres" -Atqc "select 1" >/dev/null || die "PostgreSQL is not reachable at $PG_URL"
  redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || die "Redis is not reachable at $REDIS_URL"
  local svc db
  for svc in "${SERVICES[@]}"; do
    db=${DB_PREFIX}_$svc
    if [ -z "$(psql "$PG_URL/postgres" -Atc "select 1 from pg_database where datname = '$db'")" ]; then
      log "creating database $db"
      psql "$PG_URL/postgres" -qc "CREATE DATABASE \"$db\"" >/dev/null
    fi
  done
}

ensure_binaries() {
  local build=$1 b
  if [ "$build" = 0 ]; then
    for b in "${BINARIES[@]}"; do
      [ -x "$BIN/$b" ] || { build=1; break; }
    done
  fi
  if [ "$build" = 1 ]; then
    log "cargo build --release"
    cargo build --release -p yibao-gateway -p yibao-enrollment -p yibao-settlement -p yibao-ltc \
      -p yibao-procurement -p yibao-supervision -p yibao
  fi
}

ensure_keys() {
  if [ ! -f "$JWKS_FILE" ]; then
    log "generating the development signing key and JWKS in $DIR"
    "$BIN/yibao" keys --data-dir "$DIR"
  fi
  [ -f "$JWKS_FILE" ] || die "no JWKS at $JWKS_FILE"
}

# secret NAME: a random secret kept in the cluster's directory (the same for every replica).
secret() {
  local f=$DIR/$1
  if [ ! -s "$f" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f")
  fi
  cat "$f"
}

voucher_secret() { secret voucher-secret; }

# launch NAME COMMAND…: run in the background with the shared environment, record pid, log.
launch() {
  local name=$1
  shift
  if running "$name"; then
    log "$name already running (pid $(cat "$DIR/$name.pid"))"
    return 0
  fi
  log "starting $name"
  env \
    YIBAO__REDIS__URL="$REDIS_URL" \
    YIBAO__TELEMETRY__OTLP_ENDPOINT="$OTLP_ENDPOINT" \
    YIBAO__TELEMETRY__LOG_FORMAT=text \
    YIBAO__TELEMETRY__LOG_LEVEL=info \
    YIBAO__AUTH__JWKS_FILE="$JWKS_FILE" \
    YIBAO__AUTH__ISSUER=yibao \
    YIBAO__AUTH__AUDIENCE=yibao-api \
    "$@" >>"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

own_env() { # own_env SERVICE: the service's own settings, one per line
  [ "$1" = enrollment ] && echo "YIBAO__ENROLLMENT__VOUCHER_SECRET=$(voucher_secret)"
  return 0
}

migrate() {
  local svc=$1 own=()
  mapfile -t own < <(own_env "$svc")
  log "migrating $svc"
  env YIBAO__DATABASE__URL="$PG_URL/${DB_PREFIX}_$svc" "${own[@]}" \
    YIBAO__AUTH__JWKS_FILE="$JWKS_FILE" YIBAO__TELEMETRY__LOG_FORMAT=text \
    "$BIN/yibao-$svc" migrate >>"$DIR/$svc.log" 2>&1 \
    || die "migration of $svc failed (see $DIR/$svc.log)"
}

launch_service() { # launch_service SERVICE REPLICA
  local svc=$1 r=$2 own=() upstreams=() other
  mapfile -t own < <(own_env "$svc")
  for other in "${SERVICES[@]}"; do
    upstreams+=("YIBAO__UPSTREAMS__${other^^}=$(upstream "$other" "$r")")
  done
  # Each replica its own instance name: consumers hold partition leases under it (decision 0008).
  launch "$(name "$svc" "$r")" \
    YIBAO_INSTANCE="$(hostname)-$(name "$svc" "$r")" \
    YIBAO__GRPC__LISTEN="127.0.0.1:$(service_port "$svc" "$r")" \
    YIBAO__METRICS__LISTEN="127.0.0.1:$(($(service_port "$svc" "$r") + 3000))" \
    YIBAO__DATABASE__URL="$PG_URL/${DB_PREFIX}_$svc" \
    YIBAO__DATABASE__MAX_CONNECTIONS=16 \
    "${own[@]}" \
    "${upstreams[@]}" \
    "$BIN/yibao-$svc"
}

launch_gateway() { # launch_gateway REPLICA
  local r=$1 upstreams=() svc
  for svc in "${SERVICES[@]}"; do
    upstreams+=("YIBAO__UPSTREAMS__${svc^^}=$(upstream "$svc" "$r")")
  done
  launch "$(name gateway "$r")" \
    YIBAO__GATEWAY__LISTEN="127.0.0.1:$(gateway_port "$r")" \
    YIBAO__GATEWAY__RATE_LIMIT_PER_MINUTE=60000 \
    YIBAO__GATEWAY__MAX_BODY_BYTES=4194304 \
    YIBAO__GATEWAY__REQUEST_TIMEOUT_MS=10000 \
    YIBAO__GATEWAY__INTERFACE__SIGNING_KEY_DIR="$(dirname "$JWKS_FILE")" \
    YIBAO__GATEWAY__IDEMPOTENCY_SECRET="$(secret idempotency-secret)" \
    "${upstreams[@]}" \
    "$BIN/yibao-gateway"
}

port_of() { # port_of SERVICE|gateway REPLICA
  if [ "$1" = gateway ]; then gateway_port "$2"; else service_port "$1" "$2"; fi
}

# wait_port NAME PORT: until the port accepts connections (30 s), or the process exited.
wait_port() {
  local _
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    running "$1" || die "$1 exited (see $DIR/$1.log)"
    sleep 0.1
  done
  die "$1 does not listen on $2 after 30 s (see $DIR/$1.log)"
}

up() {
  local build=0
  case ${1:-} in
    --build) build=1 ;;
    "") ;;
    *) die "unknown option $1 (usage: $0 up [--build])" ;;
  esac
  mkdir -p "$DIR"
  ensure_binaries "$build"
  ensure_postgres_and_redis
  ensure_keys
  local svc r
  for svc in "${SERVICES[@]}"; do
    migrate "$svc"
  done
  for r in $(seq 1 "$REPLICAS"); do
    for svc in "${SERVICES[@]}"; do
      launch_service "$svc" "$r"
    done
    launch_gateway "$r"
  done
  for r in $(seq 1 "$REPLICAS"); do
    local url
    url="http://127.0.0.1:$(gateway_port "$r")/readyz"
    log "waiting for $url"
    local ok=0
    for _ in $(seq 1 60); do
      if curl -fsS "$url" >/dev/null 2>&1; then ok=1; break; fi
      for svc in "${SERVICES[@]}" gateway; do
        running "$(name "$svc" "$r")" || die "$(name "$svc" "$r") exited (see $DIR/$(name "$svc" "$r").log)"
      done
      sleep 1
    done
    [ "$ok" = 1 ] || die "$(name gateway "$r") was not ready after 60 s (see $DIR/*.log)"
    log "ready: $(name gateway "$r") http://127.0.0.1:$(gateway_port "$r") (logs in $DIR/)"
  done
}

# The recorded processes, gateways first (they drain their callers before the services go).
recorded() {
  local f
  for f in "$DIR"/gateway*.pid "$DIR"/*.pid; do
    [ -f "$f" ] && basename "$f" .pid
  done | awk '!seen[$0]++'
}

stop() { # stop NAME: SIGTERM, wait for the drain (10 s), then SIGKILL
  local name=$1 pid
  if running "$name"; then
    pid=$(cat "$DIR/$name.pid")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not drain in 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$DIR/$name.pid"
}

down() {
  local name
  while read -r name; do stop "$name"; done < <(recorded)
}

kill9() {
  local name=$1 pid
  parse "$name"
  running "$name" || die "$name is not running"
  pid=$(cat "$DIR/$name.pid")
  log "kill -9 $name (pid $pid)"
  kill -KILL "$pid"
  # Gone, or a zombie its parent has not reaped yet (either way it holds no port any more).
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.05
  done
  rm -f "$DIR/$name.pid"
}

start_one() {
  local name=$1
  parse "$name"
  mkdir -p "$DIR"
  if [ "$P_SERVICE" = gateway ]; then launch_gateway "$P_REPLICA"; else launch_service "$P_SERVICE" "$P_REPLICA"; fi
  wait_port "$name" "$(port_of "$P_SERVICE" "$P_REPLICA")"
  log "$name listens on $(port_of "$P_SERVICE" "$P_REPLICA")"
}

status() {
  local name rc=0 r url any=0
  while read -r name; do
    any=1
    if running "$name"; then
      printf '%-14s running (pid %s)\n' "$name" "$(cat "$DIR/$name.pid")"
    else
      printf '%-14s stopped\n' "$name"
      rc=1
    fi
  done < <(recorded)
  [ "$any" = 1 ] || { echo "nothing started"; rc=1; }
  for r in $(seq 1 "$REPLICAS"); do
    url="http://127.0.0.1:$(gateway_port "$r")/readyz"
    if curl -fsS "$url" >/dev/null 2>&1; then
      echo "$(name gateway "$r") /readyz: ready"
    else
      echo "$(name gateway "$r") /readyz: not ready"
      rc=1
    fi
  done
  return "$rc"
}

usage() { echo "usage: $0 up [--build] | down | status | kill9 NAME | start NAME | restart NAME" >&2; exit 2; }

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  kill9) [ $# = 2 ] || usage; kill9 "$2" ;;
  start) [ $# = 2 ] || usage; start_one "$2" ;;
  restart) [ $# = 2 ] || usage; parse "$2"; stop "$2"; start_one "$2" ;;
  *) usage ;;
esac
