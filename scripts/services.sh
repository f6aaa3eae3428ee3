# Sourced by the scripts: installs (Debian packages) and starts PostgreSQL and Redis when they
# are missing or stopped, idempotently. PostgreSQL: 127.0.0.1:5432, trust auth. Redis:
# 127.0.0.1:6379, nothing kept on disk.

ensure_services() {
  local need_apt=()
  command -v psql >/dev/null 2>&1 || need_apt+=(postgresql postgresql-client)
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
  if [ ${#need_apt[@]} -gt 0 ]; then
    printf '==> installing %s\n' "${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    printf '==> starting PostgreSQL\n'
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not ready on 127.0.0.1:5432" >&2; return 1; }
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    printf '==> starting Redis\n'
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  fi
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not answering on 127.0.0.1:6379" >&2; return 1; }
}

# drop_new_databases_on_exit URL: on exit, drops the yibao_* databases created meanwhile (each
# test and benchmark creates fresh ones).
drop_new_databases_on_exit() {
  _yibao_pg_url=$1
  _yibao_dbs_before=$(mktemp)
  _yibao_list_dbs >"$_yibao_dbs_before"
  trap _yibao_drop_new_dbs EXIT
}

_yibao_list_dbs() { psql "$_yibao_pg_url" -Atc "select datname from pg_database where datname like 'yibao\_%'" | sort; }

_yibao_drop_new_dbs() {
  local after
  after=$(mktemp)
  _yibao_list_dbs >"$after" || true
  comm -13 "$_yibao_dbs_before" "$after" | while read -r db; do
    [ -n "$db" ] && psql "$_yibao_pg_url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -f "$_yibao_dbs_before" "$after"
}
