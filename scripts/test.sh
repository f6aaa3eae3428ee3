#!/usr/bin/env bash
# The whole test suite — the README's test command, and what CI runs (.ci/run).
#
#   scripts/test.sh            everything
#   SKIP_DEPLOY_CHECKS=1 …     without the Kubernetes/Helm checks
#
# It installs and starts what it needs (idempotently): PostgreSQL and Redis (Debian packages),
# buf (PyPI). Every test creates its own fresh databases; the ones this run created are
# dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\n==> %s\n' "$*"; }
need_apt=()
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql postgresql-client)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PG_URL=${YIBAO_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${YIBAO_TEST_REDIS_URL:-redis://127.0.0.1:6379}

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping

list_dbs() { psql "$PG_URL" -Atc "select datname from pg_database where datname like 'yibao\_%'" | sort; }
before=$(mktemp)
list_dbs >"$before"
cleanup() {
  local after
  after=$(mktemp)
  list_dbs >"$after" || true
  comm -13 "$before" "$after" | while read -r db; do
    [ -n "$db" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -f "$before" "$after"
}
trap cleanup EXIT

log "cargo build (tests)"
cargo test --workspace --no-run --locked

log "tests on SQLite and in-process cache/bus"
env -u YIBAO_TEST_DATABASE_URL -u YIBAO_TEST_REDIS_URL cargo test --workspace --locked

log "tests on PostgreSQL ($PG_URL) and Redis ($REDIS_URL)"
YIBAO_TEST_DATABASE_URL="$PG_URL" YIBAO_TEST_REDIS_URL="$REDIS_URL" cargo test --workspace --locked

log "buf lint"
command -v buf >/dev/null 2>&1 || python3 -m pip install -q buf-bin
(cd proto && buf lint)

if [ -z "${SKIP_DEPLOY_CHECKS:-}" ] && [ -x scripts/check-deploy.sh ]; then
  log "deployment checks"
  scripts/check-deploy.sh
fi

log "all tests passed"
