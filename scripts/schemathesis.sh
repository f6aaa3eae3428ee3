#!/usr/bin/env bash
# Schemathesis against the gateway's own /openapi.json, with a valid token of every role:
# generated requests (schema-conforming and schema-violating) to every operation, failing on any
# 5xx and on any answer that does not match the document (response schema, content type,
# status code). It starts `yibao up --demo` on free ports with a fresh data directory, mints a
# token per role with `yibao token`, runs schemathesis once per role, prints one line per role
# and a total, and exits non-zero on a 5xx, a schema error, or fewer requests than asked for.
#
#   scripts/schemathesis.sh                 # full form: CASES=10000 generated requests in all
#   CASES=1000 scripts/schemathesis.sh      # short form (CI)
#
# Settings (environment):
#   CASES      generated requests to reach in total, over all roles (default 10000); each role
#              gets CASES/roles, spread over the operations as schemathesis' max-examples
#   ROLES      roles to run, space-separated (default: all eight)
#   PROFILE    debug (default) or release: which `yibao` cargo builds
#   YIBAO_BIN  a `yibao` binary to use instead of building one
#   SEED       schemathesis seed (default 1), so a run can be repeated
#   WORKERS    schemathesis workers (default 1: with more, Python 3.11's ast module, which
#              hypothesis calls from each worker thread, fails now and then with "AST constructor
#              recursion depth mismatch" — an error of the tool, counted as an error of the run)
#   KEEP=1     keep the data directory (logs, reports) under data/ after a passing run
#
# The table has, per role: cases (requests sent), 5xx, schema errors (answers that do not match
# the document), other failures (content type or status code not documented), run errors
# (schemathesis' own), and looser ops — operations whose services refused (400) most of the
# schema-conforming requests, listed with the fields named in <data dir>/<role>.looser.tsv: a rule
# the document does not carry, or one only the service can check (a check digit, a rule across
# fields); reported, not failed on.
#
# Installs schemathesis (pinned) into .tools/schemathesis-venv (git-ignored) on first use; a
# second run reuses it. Needs python3 with venv (or pip to bootstrap virtualenv) and PyPI.
# The per-operation figures are in <data dir>/<role>.ndjson and <role>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SCHEMATHESIS_VERSION=4.32.5
VENV=$ROOT/.tools/schemathesis-venv
CASES=${CASES:-10000}
ROLES=${ROLES:-"operator auditor admin hospital insurer care_institution assessor manufacturer"}
PROFILE=${PROFILE:-debug}
SEED=${SEED:-1}
WORKERS=${WORKERS:-1}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'schemathesis.sh: %s\n' "$*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------------------------
install_schemathesis() {
  local stamp=$VENV/.yibao-requirements want="schemathesis==$SCHEMATHESIS_VERSION"
  if [ -x "$VENV/bin/schemathesis" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  log "installing $want into .tools/schemathesis-venv"
  mkdir -p "$ROOT/.tools"
  if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      # Debian without python3-venv: bootstrap virtualenv from PyPI into .tools/.
      rm -rf "$VENV"
      python3 -m pip install -q --target "$ROOT/.tools/virtualenv-pkg" virtualenv \
        || python3 -m pip install -q --break-system-packages --target "$ROOT/.tools/virtualenv-pkg" virtualenv
      PYTHONPATH="$ROOT/.tools/virtualenv-pkg" python3 -m virtualenv -q "$VENV"
    fi
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$want"
  printf '%s\n' "$want" >"$stamp"
}

yibao_binary() {
  if [ -n "${YIBAO_BIN:-}" ]; then
    [ -x "$YIBAO_BIN" ] || die "YIBAO_BIN=$YIBAO_BIN is not executable"
    printf '%s\n' "$YIBAO_BIN"
    return
  fi
  local flag=()
  [ "$PROFILE" = release ] && flag=(--release)
  log "cargo build -p yibao ${flag[*]}"
  cargo build -q -p yibao "${flag[@]}" >&2
  printf '%s\n' "$ROOT/target/$PROFILE/yibao"
}

# A free TCP port on 127.0.0.1 below Linux's ephemeral range (32768–60999), so no outgoing
# connection can be handed the same port meanwhile.
free_port() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    port = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port in 20000-32000")
PY
}

install_schemathesis
YIBAO=$(yibao_binary)

# --- the suite --------------------------------------------------------------------------------
mkdir -p "$ROOT/data"
DATA=$(mktemp -d "$ROOT/data/schemathesis.XXXXXX")
HTTP_PORT=$(free_port)
GRPC_PORT=$(free_port)
[ "$HTTP_PORT" != "$GRPC_PORT" ] || GRPC_PORT=$(free_port)
BASE=http://127.0.0.1:$HTTP_PORT
UP_PID=""
cleanup() {
  local rc=$?
  if [ -n "$UP_PID" ] && kill -0 "$UP_PID" 2>/dev/null; then
    kill "$UP_PID" 2>/dev/null || true
    wait "$UP_PID" 2>/dev/null || true
  fi
  if [ "$rc" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
    rm -rf "$DATA"
  else
    printf 'schemathesis.sh: logs and reports kept in %s\n' "$DATA" >&2
  fi
}
trap cleanup EXIT

log "yibao up --demo on $BASE (data dir ${DATA#"$ROOT"/})"
"$YIBAO" up --demo --data-dir "$DATA" --listen "127.0.0.1:$HTTP_PORT" \
  --grpc-listen "127.0.0.1:$GRPC_PORT" >"$DATA/yibao.log" 2>&1 &
UP_PID=$!
for _ in $(seq 1 600); do
  if curl -fs "$BASE/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$UP_PID" 2>/dev/null || { tail -20 "$DATA/yibao.log" >&2; die "yibao up exited"; }
  sleep 0.1
done
curl -fs "$BASE/readyz" >/dev/null || { tail -20 "$DATA/yibao.log" >&2; die "the gateway is not ready"; }
curl -fs "$BASE/openapi.json" -o "$DATA/openapi.json"
OPERATIONS=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(v) for v in d["paths"].values()))' "$DATA/openapi.json")

# The organisation or region each role's token is scoped to (the demo's county and hospital).
scope_of() {
  case "$1" in
    operator | auditor) echo "--region 341522" ;;
    admin) echo "" ;;
    hospital) echo "--org H34152200001" ;;
    insurer) echo "--org INS000001" ;;
    care_institution) echo "--org H34152200002" ;;
    assessor) echo "--org ASSESSOR-1" ;;
    manufacturer) echo "--org M0001" ;;
    *) die "unknown role $1" ;;
  esac
}

read -r -a ROLE_LIST <<<"$ROLES"
PER_ROLE=$(((CASES + ${#ROLE_LIST[@]} - 1) / ${#ROLE_LIST[@]}))
# Schemathesis' max-examples bounds the fuzzing phase per operation; the examples and coverage
# phases add their own cases, so this reaches at least the budget.
PER_OPERATION=$(((PER_ROLE + OPERATIONS - 1) / OPERATIONS))
log "$OPERATIONS operations, ${#ROLE_LIST[@]} roles, about $PER_ROLE requests per role (max-examples $PER_OPERATION)"

CHECKS=not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance
FAILED=0
SUMMARY=$DATA/summary.tsv
: >"$SUMMARY"
for role in "${ROLE_LIST[@]}"; do
  # shellcheck disable=SC2046 # the scope is two words on purpose
  token=$("$YIBAO" token --data-dir "$DATA" --role "$role" $(scope_of "$role") --ttl 7200)
  log "schemathesis as $role"
  set +e
  # From the data directory: schemathesis keeps its own state in ./.schemathesis.
  (cd "$DATA" && "$VENV/bin/schemathesis" run "$BASE/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks "$CHECKS" \
    --max-examples "$PER_OPERATION" \
    --seed "$SEED" \
    --workers "$WORKERS" \
    --phases examples,coverage,fuzzing \
    --suppress-health-check all \
    --generation-database none \
    --request-timeout 15 \
    --no-color \
    --report ndjson --report-ndjson-path "$DATA/$role.ndjson") \
    >"$DATA/$role.log" 2>&1
  st_rc=$?
  set -e
  python3 - "$role" "$DATA/$role.ndjson" "$st_rc" "$DATA/$role.looser.tsv" >>"$SUMMARY" <<'PY' || FAILED=1
import base64, collections, json, sys
role, path, rc, looser_list = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
cases = server_errors = schema_errors = other_failures = errors = 0
failures = set()
# Per operation: schema-conforming requests, and those a service refused with 400 (not the
# gateway's idempotency answers, which depend on the keys schemathesis happens to reuse).
positive = collections.Counter()
refused = collections.defaultdict(collections.Counter)


def problem_of(response):
    body = response.get("content") or {}
    try:
        raw = base64.b64decode(body["$base64"]) if "$base64" in body else body.get("string", "")
        problem = json.loads(raw or "{}")
    except (ValueError, KeyError):
        return {}
    return problem if isinstance(problem, dict) else {}


with open(path, encoding="utf-8") as f:
    for line in f:
        event = json.loads(line) if line.strip() else {}
        if "NonFatalError" in event or "FatalError" in event:
            errors += 1
        recorder = (event.get("ScenarioFinished") or {}).get("recorder") or {}
        generated = recorder.get("cases") or {}
        for case_id, interaction in (recorder.get("interactions") or {}).items():
            cases += 1
            response = interaction.get("response") or {}
            status = int(response.get("status_code") or 0)
            if status >= 500:
                server_errors += 1
            case = (generated.get(case_id) or {}).get("value") or {}
            if ((case.get("meta") or {}).get("generation") or {}).get("mode") != "positive":
                continue
            operation = f"{case.get('method')} {case.get('path')}"
            positive[operation] += 1
            problem = problem_of(response) if status == 400 else {}
            code = str(problem.get("code", ""))
            if status == 400 and not code.startswith("IDEMPOTENCY_"):
                fields = ",".join(e.get("field", "") for e in problem.get("errors") or []) or code
                refused[operation][fields] += 1
        for case_id, checks in (recorder.get("checks") or {}).items():
            for check in checks:
                if str(check.get("status", "")).lower() != "failure":
                    continue
                key = (check.get("name"), case_id)
                if key in failures:
                    continue
                failures.add(key)
                if check["name"] == "response_schema_conformance":
                    schema_errors += 1
                elif check["name"] != "not_a_server_error":
                    other_failures += 1
# Operations whose schema-conforming requests were mostly refused, with the fields named: where
# the document is looser than the service. Reported, not failed on.
looser = 0
with open(looser_list, "w", encoding="utf-8") as out:
    for operation in sorted(positive):
        n = sum(refused[operation].values())
        if n * 2 >= positive[operation] and n > 0:
            looser += 1
            fields = "; ".join(f"{k} ({v})" for k, v in refused[operation].most_common(3))
            print(f"{operation}\t{n}/{positive[operation]}\t{fields}", file=out)
print(f"{role}\t{cases}\t{server_errors}\t{schema_errors}\t{other_failures}\t{errors}\t{looser}\t{rc}")
PY
done

python3 - "$SUMMARY" "$CASES" <<'PY' || FAILED=1
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines() if l]
want = int(sys.argv[2])
total = [0, 0, 0, 0, 0]
bad = False
print(f"{'role':<17} {'cases':>7} {'5xx':>5} {'schema errors':>14} {'other failures':>15} {'run errors':>11} {'looser ops':>11}")
for role, cases, s5, schema, other, errors, looser, rc in rows:
    nums = [int(cases), int(s5), int(schema), int(other), int(errors)]
    total = [a + b for a, b in zip(total, nums)]
    # schemathesis exits 1 when a check failed; anything else is an error of the run itself.
    note = "" if rc in ("0", "1") else f"  (schemathesis exited {rc})"
    bad |= rc not in ("0", "1") or any(n > 0 for n in nums[1:])
    print(f"{role:<17} {nums[0]:>7} {nums[1]:>5} {nums[2]:>14} {nums[3]:>15} {nums[4]:>11} {int(looser):>11}{note}")
print(f"{'total':<17} {total[0]:>7} {total[1]:>5} {total[2]:>14} {total[3]:>15} {total[4]:>11}")
if total[0] < want:
    print(f"schemathesis.sh: {total[0]} requests, fewer than CASES={want}", file=sys.stderr)
    bad = True
sys.exit(1 if bad else 0)
PY

if [ "$FAILED" -ne 0 ]; then
  die "failures: see $DATA/<role>.log (schemathesis' reproductions) and $DATA/yibao.log"
fi
log "no 5xx, no schema errors"
