#!/usr/bin/env bash
# gpu-check.sh: the one prepared run for a lent GPU machine (no Node, no network there).
#
#   scripts/gpu-check.sh pack   here: compile dist/, pack this machine's x86-64 Node binary and
#                               the production node_modules into .deps/gpu-carry (about 45 MiB)
#   scripts/gpu-check.sh run    there (or here): unpack, build the addon against that machine's
#                               Python torch, run scripts/gpu-check.mjs (CUDA checks + benchmark);
#                               logs and gpu-check.json go to $OUT (default ./gpu-check-out)
#
# Device call (carry both folders; the addon is built there, ~3-5 min on 16 cores):
#   run(command="bash scripts/gpu-check.sh run", carry=[".deps/gpu-carry", "dist"], timeout_s=540)
# gpu-check.json is rewritten after every group of checks, so a run cut off by the time limit
# keeps what it measured. While the machine is warm, build-gpu/ stays and a second call only
# rebuilds what changed; VPT_GPU_COMPILE=0 (skip torch.compile) and VPT_GPU_E2E=0 (skip the
# end-to-end epoch) shorten it; VPT_GPU_SECTIONS=name,name (or none) picks the per-feature
# sections of scripts/gpu-check/ (serve, tune's grouped step, prompt scaling).
# Without a GPU `run` still builds and reports "no CUDA" (exit 0), so it is tested here first:
#   LIBTORCH=$PWD/.deps/torch-cpu/torch VPT_GPU_CHECK_NODE=carried bash scripts/gpu-check.sh run
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT=$PWD
readonly CARRY=$ROOT/.deps/gpu-carry

log() { echo "gpu-check: $*"; }
die() { echo "gpu-check: FAILED: $*" >&2; exit 1; }

pack() {
  command -v xz >/dev/null || die "xz is needed to pack"
  rm -rf "$CARRY" && mkdir -p "$CARRY"
  npx tsc -p tsconfig.json
  local node_bin
  node_bin=$(readlink -f "$(command -v node)")
  log "packing Node $(node --version) from $node_bin"
  xz -T0 -6 -c "$node_bin" > "$CARRY/node.xz"
  local stage
  stage=$(mktemp -d)
  cp package.json package-lock.json "$stage/"
  (cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
  tar -C "$stage" -cf - node_modules | xz -T0 -6 > "$CARRY/node_modules.tar.xz"
  rm -rf "$stage"
  # Gloo's headers (Debian libgloo-dev): the machine there has none, and the data-parallel check needs them.
  [[ -f /usr/include/gloo/algorithm.h ]] || die "install libgloo-dev here first: its headers are carried"
  tar -C /usr/include -cJf "$CARRY/gloo-include.tar.xz" gloo
  du -ch "$CARRY"/* dist | tail -n 1 | sed 's/^/gpu-check: carry size: /'
}

find_nvrtc() {
  python3 - <<'PY' 2>/dev/null || true
import glob, os, torch
root = os.path.dirname(os.path.dirname(torch.__file__))
hits = sorted(glob.glob(os.path.join(root, "nvidia", "*", "lib", "libnvrtc.so*")))
print(hits[0] if hits else "")
PY
}

run() {
  local out=${OUT:-$ROOT/gpu-check-out}
  mkdir -p "$out"
  exec > >(tee -a "$out/gpu-check.log") 2>&1
  local node_bin
  node_bin=$(command -v node || true)
  if [[ -z $node_bin || ${VPT_GPU_CHECK_NODE:-} == carried ]]; then
    [[ -f $CARRY/node.xz ]] || die "no node on PATH and no $CARRY/node.xz (run 'pack' first)"
    mkdir -p /tmp/vpt-node && xz -dc "$CARRY/node.xz" > /tmp/vpt-node/node && chmod +x /tmp/vpt-node/node
    node_bin=/tmp/vpt-node/node
  fi
  export PATH=$(dirname "$node_bin"):$PATH  # CMakeLists.txt runs `node` for node-addon-api's path
  [[ -d node_modules/cmake-js ]] || tar -xJf "$CARRY/node_modules.tar.xz"
  if [[ ! -f /usr/include/gloo/algorithm.h && -f $CARRY/gloo-include.tar.xz ]]; then
    mkdir -p /tmp/vpt-gloo && tar -C /tmp/vpt-gloo -xJf "$CARRY/gloo-include.tar.xz"
    export GLOO_INCLUDE_DIR=/tmp/vpt-gloo
  fi
  [[ -f dist/lib/index.js ]] || die "dist/ missing: carry it (built by 'pack')"
  log "node $("$node_bin" --version); $(nproc) cores"
  (nvidia-smi || echo "nvidia-smi: none") > "$out/nvidia-smi.txt" 2>&1
  python3 -c "import torch; print('gpu-check: python torch', torch.__version__, 'cuda', torch.cuda.is_available())" || true
  local nvrtc args=()
  nvrtc=$(find_nvrtc)
  [[ -n $nvrtc ]] && args+=("--CDCUDA_nvrtc_LIBRARY=$nvrtc")
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
  local started=$SECONDS
  "$node_bin" node_modules/cmake-js/bin/cmake-js compile --out build-gpu -p "$(nproc)" "${args[@]}" > "$out/build.log" 2>&1 \
    || { tail -n 40 "$out/build.log"; die "addon build failed (log: build.log)"; }
  grep "vpt-native: LibTorch" "$out/build.log" | sed 's/^-- /gpu-check: /'
  log "addon built in $((SECONDS - started)) s"
  OUT=$out VPT_NATIVE_ADDON=$ROOT/build-gpu/Release/vpt_native.node "$node_bin" scripts/gpu-check.mjs
}

case ${1:-} in
  pack) pack ;;
  run) run ;;
  *) die "usage: scripts/gpu-check.sh pack|run" ;;
esac
