#!/usr/bin/env bash
# A production-shaped cluster on one machine: every service as its own process on local
# PostgreSQL (a database each) and Redis, the gateway in front, configured with the same
# YIBAO__… keys the Kubernetes manifests use.
#
#   scripts/dev-cluster.sh up [--build]   build if binaries are missing (or --build), start, wait for /readyz
#   scripts/dev-cluster.sh status         which processes run, and the gateway's /readyz
#   scripts/dev-cluster.sh down           stop them
#
# Ports: enrollment 7061, settlement 7062, ltc 7063, procurement 7064, supervision 7065,
# gateway 8088. Pids and logs: data/dev-cluster/. PostgreSQL 127.0.0.1:5432 (trust auth, user
# postgres) and Redis 127.0.0.1:6379 are started if they are not running.
#
# Variables:
#   JWKS_FILE   the token-verification keys (default data/dev-cluster/jwks.json). Unless it
#               exists, `target/release/yibao keys --data-dir data/dev-cluster` writes it with
#               data/dev-cluster/dev-signing-key.pem.
#   PG_URL      server URL without database (default postgres://postgres@127.0.0.1:5432)
#   DB_PREFIX   databases are <prefix>_<service> (default yibao)
#   YIBAO_BIN_DIR  where the binaries are (default target/release, which `up --build` fills)
#   REDIS_URL   default redis://127.0.0.1:6379/0
#   OTLP_ENDPOINT  empty (default) = no trace export
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIR=$ROOT/data/dev-cluster
BIN=${YIBAO_BIN_DIR:-$ROOT/target/release}
DB_PREFIX=${DB_PREFIX:-yibao}
JWKS_FILE=${JWKS_FILE:-$DIR/jwks.json}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
OTLP_ENDPOINT=${OTLP_ENDPOINT:-}
GATEWAY_PORT=8088

SERVICES=(enrollment settlement ltc procurement supervision)
declare -A PORT=([enrollment]=7061 [settlement]=7062 [ltc]=7063 [procurement]=7064 [supervision]=7065)
BINARIES=(yibao yibao-gateway yibao-enrollment yibao-settlement yibao-ltc yibao-procurement yibao-supervision)

log() { printf '==> %s\n' "$*"; }
die() { printf 'dev-cluster: %s\n' "$*" >&2; exit 1; }

upstream() { echo "http://127.0.0.1:${PORT[$1]}"; }

running() { # running NAME: the process recorded in NAME.pid is alive
  local pidfile=$DIR/$1.pid
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# shellcheck source=scripts/services.sh
. "$ROOT/scripts/services.sh"

ensure_postgres_and_redis() {
  ensure_services || die "PostgreSQL and Redis are needed"
  local svc db
  for svc in "${SERVICES[@]}"; do
    db=${DB_PREFIX}_$svc
    if [ -z "$(psql "$PG_URL/postgres" -Atc "select 1 from pg_database where datname = '$db'")" ]; then
      log "creating database $db"
      createdb -h 127.0.0.1 -p 5432 -U postgres "$db"
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
    log "generating the development signing key and JWKS in data/dev-cluster"
    "$BIN/yibao" keys --data-dir "$DIR"
  fi
  [ -f "$JWKS_FILE" ] || die "no JWKS at $JWKS_FILE"
}

voucher_secret() {
  local f=$DIR/voucher-secret
  if [ ! -s "$f" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f")
  fi
  cat "$f"
}

# start NAME COMMAND…: run in the background with the shared environment, record pid, log.
start() {
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
  local svc secret
  secret=$(voucher_secret)
  for svc in "${SERVICES[@]}"; do
    local db_url=$PG_URL/${DB_PREFIX}_$svc own=()
    [ "$svc" = enrollment ] && own=(YIBAO__ENROLLMENT__VOUCHER_SECRET="$secret")
    log "migrating $svc"
    env YIBAO__DATABASE__URL="$db_url" "${own[@]}" \
      YIBAO__AUTH__JWKS_FILE="$JWKS_FILE" YIBAO__TELEMETRY__LOG_FORMAT=text \
      "$BIN/yibao-$svc" migrate >>"$DIR/$svc.log" 2>&1 \
      || die "migration of $svc failed (see data/dev-cluster/$svc.log)"
    local upstreams=() other
    for other in "${SERVICES[@]}"; do
      upstreams+=("YIBAO__UPSTREAMS__${other^^}=$(upstream "$other")")
    done
    start "$svc" \
      YIBAO__GRPC__LISTEN="127.0.0.1:${PORT[$svc]}" \
      YIBAO__DATABASE__URL="$db_url" \
      YIBAO__DATABASE__MAX_CONNECTIONS=16 \
      "${own[@]}" \
      "${upstreams[@]}" \
      "$BIN/yibao-$svc"
  done
  start gateway \
    YIBAO__GATEWAY__LISTEN="127.0.0.1:$GATEWAY_PORT" \
    YIBAO__GATEWAY__RATE_LIMIT_PER_MINUTE=60000 \
    YIBAO__GATEWAY__MAX_BODY_BYTES=4194304 \
    YIBAO__GATEWAY__REQUEST_TIMEOUT_MS=10000 \
    YIBAO__UPSTREAMS__ENROLLMENT="$(upstream enrollment)" \
    YIBAO__UPSTREAMS__SETTLEMENT="$(upstream settlement)" \
    YIBAO__UPSTREAMS__LTC="$(upstream ltc)" \
    YIBAO__UPSTREAMS__PROCUREMENT="$(upstream procurement)" \
    YIBAO__UPSTREAMS__SUPERVISION="$(upstream supervision)" \
    "$BIN/yibao-gateway"

  log "waiting for http://127.0.0.1:$GATEWAY_PORT/readyz"
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$GATEWAY_PORT/readyz" >/dev/null 2>&1; then
      log "ready: gateway http://127.0.0.1:$GATEWAY_PORT (logs in data/dev-cluster/)"
      return 0
    fi
    for name in "${SERVICES[@]}" gateway; do
      running "$name" || die "$name exited (see data/dev-cluster/$name.log)"
    done
    sleep 1
  done
  die "the gateway was not ready after 60 s (see data/dev-cluster/*.log)"
}

down() {
  local name pid
  for name in gateway "${SERVICES[@]}"; do
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
  done
}

status() {
  local name rc=0
  for name in "${SERVICES[@]}" gateway; do
    if running "$name"; then
      printf '%-12s running (pid %s)\n' "$name" "$(cat "$DIR/$name.pid")"
    else
      printf '%-12s stopped\n' "$name"
      rc=1
    fi
  done
  if curl -fsS "http://127.0.0.1:$GATEWAY_PORT/readyz" >/dev/null 2>&1; then
    echo "gateway /readyz: ready"
  else
    echo "gateway /readyz: not ready"
    rc=1
  fi
  return "$rc"
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up [--build] | down | status" >&2; exit 2 ;;
esac
