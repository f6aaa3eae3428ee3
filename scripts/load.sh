#!/usr/bin/env bash
# Benchmarks that print figures (never assertions): eligibility through the gateway at 64
# concurrent callers beside the machine's raw gRPC ceiling, and bulk import rows/s; each on
# SQLite (embedded) and on PostgreSQL + Redis.
#
#   scripts/load.sh                       both benchmarks, both backends
#   scripts/load.sh eligibility|import|dupscan|settle|interface   one benchmark (dupscan:
#                                         PostgreSQL only, 10 million generated enrolments;
#                                         settle: PostgreSQL only, settlement through the gateway
#                                         beside pgbench running the same write transaction;
#                                         interface: 2304 through the national interface's
#                                         envelope beside the native settle path, both backends;
#                                         none of the three in `all`)
#   BACKENDS=postgres scripts/load.sh …   one backend (sqlite | postgres)
#   SECONDS_PER_RUN=10 CONCURRENCY=64 PEOPLE=2000 ROWS=100000 ENROLMENTS=10000000
#   SETTLEMENTS=2000   sizes
#
# Services' own benchmarks (engine, selection, look-ups, detector): `cargo bench -p <crate>`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
. scripts/services.sh
ensure_services

PG_URL=${YIBAO_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${YIBAO_TEST_REDIS_URL:-redis://127.0.0.1:6379}
WHAT=${1:-all}
drop_new_databases_on_exit "$PG_URL"
BACKENDS=${BACKENDS:-sqlite postgres}

echo "==> cargo build --release -p yibao-integration-tests --bin yibao-load"
cargo build --release --locked -p yibao-integration-tests --bin yibao-load
BIN=target/release/yibao-load
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"

run() { # run BACKEND ARGS…
  local backend=$1
  shift
  echo "==> yibao-load $* ($backend)"
  if [ "$backend" = postgres ]; then
    YIBAO_TEST_DATABASE_URL="$PG_URL" YIBAO_TEST_REDIS_URL="$REDIS_URL" "$BIN" "$@"
  else
    env -u YIBAO_TEST_DATABASE_URL -u YIBAO_TEST_REDIS_URL "$BIN" "$@"
  fi
}

if [ "$WHAT" = dupscan ]; then
  run postgres dupscan --enrolments "${ENROLMENTS:-10000000}"
  exit 0
fi
if [ "$WHAT" = settle ]; then
  # pgbench comes with Debian's PostgreSQL server package, which ensure_services installs.
  command -v pgbench >/dev/null 2>&1 || { echo "pgbench not found (Debian: apt-get install postgresql)"; exit 1; }
  run postgres settle --concurrency "${CONCURRENCY:-64}" --seconds "${SECONDS_PER_RUN:-10}" --people "${PEOPLE:-2000}" --items "${ITEMS:-10}"
  exit 0
fi

if [ "$WHAT" = interface ]; then
  for backend in $BACKENDS; do
    run "$backend" interface --concurrency "${CONCURRENCY:-64}" --settlements "${SETTLEMENTS:-2000}" --people "${PEOPLE:-2000}" --items "${ITEMS:-10}"
  done
  exit 0
fi

for backend in $BACKENDS; do
  if [ "$WHAT" = all ] || [ "$WHAT" = eligibility ]; then
    run "$backend" eligibility --concurrency "${CONCURRENCY:-64}" --seconds "${SECONDS_PER_RUN:-10}" --people "${PEOPLE:-2000}"
  fi
  if [ "$WHAT" = all ] || [ "$WHAT" = import ]; then
    run "$backend" import --rows "${ROWS:-100000}"
  fi
done
