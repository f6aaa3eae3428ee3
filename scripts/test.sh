#!/usr/bin/env bash
# The whole test suite — the README's test command, and what CI runs (.ci/run).
#
#   scripts/test.sh            everything: rustfmt and clippy clean, the vendored sqlx-core
#                              checked against its patch, the tests on SQLite and on
#                              PostgreSQL + Redis, the dev cluster, buf lint, deployment checks,
#                              and the fault suite's short form (scripts/faults.sh --short)
#   SKIP_DEPLOY_CHECKS=1 …     without the Kubernetes/Helm checks
#
# It installs and starts what it needs (idempotently): PostgreSQL and Redis (Debian packages),
# buf (PyPI). Every test creates its own fresh databases; the ones this run created are
# dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\n==> %s\n' "$*"; }
# shellcheck source=scripts/services.sh
. scripts/services.sh
ensure_services

PG_URL=${YIBAO_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${YIBAO_TEST_REDIS_URL:-redis://127.0.0.1:6379}

drop_new_databases_on_exit "$PG_URL"

# No incremental caches: CI builds once from clean, and they double target/'s size.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

log "formatting (cargo fmt --check)"
cargo fmt --all --check

log "vendored sqlx-core = the published crate + third_party/sqlx-core.patch"
scripts/vendor-sqlx-core.sh check

log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo build (tests)"
cargo test --workspace --no-run --locked

log "tests on SQLite and in-process cache/bus"
env -u YIBAO_TEST_DATABASE_URL -u YIBAO_TEST_REDIS_URL cargo test --workspace --locked

log "tests on PostgreSQL ($PG_URL) and Redis ($REDIS_URL)"
YIBAO_TEST_DATABASE_URL="$PG_URL" YIBAO_TEST_REDIS_URL="$REDIS_URL" cargo test --workspace --locked

log "production-shaped local run: scripts/dev-cluster.sh (debug binaries) and its test"
cargo build --locked --bins
export YIBAO_BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/debug DB_PREFIX=yibao_ci_$$
scripts/dev-cluster.sh down >/dev/null 2>&1 || true
scripts/dev-cluster.sh up
rc=0
cargo test --locked -p yibao-integration-tests --test dev_cluster -- --ignored || rc=$?
scripts/dev-cluster.sh down
[ "$rc" = 0 ] || { echo "dev-cluster test failed (logs: data/dev-cluster/*.log)"; exit "$rc"; }

log "buf lint"
command -v buf >/dev/null 2>&1 || python3 -m pip install -q buf-bin
(cd proto && buf lint)

if [ -z "${SKIP_DEPLOY_CHECKS:-}" ] && [ -x scripts/check-deploy.sh ]; then
  log "deployment checks"
  scripts/check-deploy.sh
fi

log "fault suite, short form: scripts/faults.sh --short (the full form is documented in docs/operations.md)"
YIBAO_BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/debug scripts/faults.sh --short

log "all tests passed"
