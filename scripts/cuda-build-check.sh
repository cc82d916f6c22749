#!/usr/bin/env bash
# cuda-build-check.sh: proves that the addon compiles and links against a CUDA LibTorch.
#
# CI has `nvcc` but no GPU, so the CUDA code path (native/*/*_cuda.cc, VPT_WITH_CUDA, the
# forced link of libtorch_cuda) would otherwise never be built. This script installs a
# CUDA LibTorch wheel into .deps/torch-cuda, builds the addon into build-cuda/ (never
# touching build/, the CPU build the tests use), and checks the result with readelf/ldd:
#   * CMake reported "LibTorch <version> (CUDA)";
#   * every native/*/*_cuda.cc (e.g. runtime/gpu_info_cuda.cc) was compiled into the engine
#     library, and gpu_info_cuda.cc's CUDA runtime call was linked into the addon;
#   * every native/kernels/*.cu kernel was compiled by nvcc and its fatbinary linked in;
#   * the .node NEEDS libtorch_cuda.so, with a RUNPATH into .deps/torch-cuda/torch/lib;
#   * every libtorch/libc10 it resolves comes from that root, none from the system
#     (Debian's libtorch-dev lives in /usr/lib/x86_64-linux-gnu).
# The addon is not loaded: without a GPU driver, libtorch_cuda cannot initialise.
# Without nvcc the check is skipped (exit 0). Usage: scripts/cuda-build-check.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT=$PWD
readonly DEPS=$ROOT/.deps/torch-cuda
readonly TORCH_ROOT=$DEPS/torch
readonly OUT=$ROOT/build-cuda
readonly ADDON=$OUT/Release/vpt_native.node
readonly CMAKE_JS=$ROOT/node_modules/.bin/cmake-js

# torch 2.14.1 is a CUDA 13 build. Its CMake config needs libnvrtc (CUDA_nvrtc_LIBRARY),
# and ATen/cuda/CUDAContext.h includes cublas_v2.h, cublasLt.h, cusparse.h and
# cusolverDn.h, which a toolkit installed without its math libraries (as on CI) lacks;
# the nvidia-cublas/-cusparse/-cusolver wheels supply them (nvidia/cu13/include, which
# CMakeLists.txt adds for any pip CUDA torch, with nvidia/*/lib on the RUNPATH). Their
# shared libraries are not needed: a shared object links without its dependencies' deps.
# nvidia-nccl-cu13 is pinned to what torch 2.14.1 requires: ProcessGroupNCCL's inline code
# (its Options) must see the nccl.h of the NCCL that libtorch_cuda was built with.
# All in one pip call: a second `pip install --target` would skip the shared nvidia/ dir.
readonly WHEELS=("torch==2.14.1" nvidia-cuda-nvrtc nvidia-cublas nvidia-cusparse nvidia-cusolver "nvidia-nccl-cu13==2.30.7")
readonly WHEELS_STAMP=$DEPS/.cuda-build-check-wheels

log() { echo "cuda-build-check: $*"; }
die() { echo "cuda-build-check: FAILED: $*" >&2; exit 1; }

find_nvcc() {
  command -v nvcc || { [[ -x /usr/local/cuda/bin/nvcc ]] && echo /usr/local/cuda/bin/nvcc; } || true
}

# The toolkit root as nvcc itself sees it (`_HERE_` is its real bin/ directory): nvcc on
# PATH may be a wrapper script (e.g. /usr/local/bin/nvcc), so readlink -f is not enough.
cuda_root_of() {
  local nvcc=$1 here
  here=$("$nvcc" -v --dryrun -c -x cu /dev/null 2>&1 | sed -n 's/^#\$ _HERE_=//p')
  [[ -n $here && -f $here/../include/cuda_runtime_api.h ]] \
    || die "cannot find the CUDA toolkit root of $nvcc (no include/cuda_runtime_api.h beside it)"
  (cd "$here/.." && pwd -P)
}

install_wheels() {
  if [[ -f $WHEELS_STAMP && "$(cat "$WHEELS_STAMP")" == "${WHEELS[*]}" ]]; then
    log "using ${WHEELS[*]} already in ${DEPS#"$ROOT"/}"
    return
  fi
  log "installing ${WHEELS[*]} into ${DEPS#"$ROOT"/} (about 2.4 GB)"
  rm -rf "$DEPS"
  python3 -m pip install --retries 0 --no-deps --target "$DEPS" "${WHEELS[@]}" \
    || die "pip install of ${WHEELS[*]} failed"
  echo "${WHEELS[*]}" > "$WHEELS_STAMP"
}

# Always from scratch: proves the current sources build, and no stale CMake cache or
# object files in build-cuda/ can mask a failure.
build_addon() {
  local cuda_root=$1 nvrtc=$DEPS/nvidia/cu13/lib/libnvrtc.so.13 configure_log=$OUT/configure.log
  [[ -x $CMAKE_JS ]] || die "$CMAKE_JS missing: run npm ci first"
  [[ -f $nvrtc ]] || die "$nvrtc missing from the nvidia-cuda-nvrtc wheel"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  export LIBTORCH=$TORCH_ROOT  # overrides the CPU LibTorch .ci/run exports
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-8.0;9.0}
  "$CMAKE_JS" configure --out "$OUT" \
    --CDCUDA_TOOLKIT_ROOT_DIR="$cuda_root" \
    --CDCMAKE_CUDA_COMPILER="$cuda_root/bin/nvcc" \
    --CDCUDA_nvrtc_LIBRARY="$nvrtc" \
    2>&1 | tee "$configure_log" || die "cmake-js configure failed (log: $configure_log)"
  grep -q "vpt-native: LibTorch [^ ]* (CUDA) from .*$TORCH_ROOT" "$configure_log" \
    || die "CMake did not report a CUDA LibTorch from $TORCH_ROOT (log: $configure_log)"
  "$CMAKE_JS" build --out "$OUT" -p 2 || die "cmake-js build failed"
  [[ -f $ADDON ]] || die "$ADDON was not produced"
}

check_cuda_sources_built() {
  local src
  for src in native/*/*_cuda.cc; do
    [[ -f $OUT/CMakeFiles/vpt_engine.dir/$src.o ]] || die "no object file for $src in ${OUT#"$ROOT"/}"
  done
  # Not grep -q: it would quit early, SIGPIPE nm, and fail the pipeline under pipefail.
  nm -D --undefined-only "$ADDON" | grep -w cudaRuntimeGetVersion >/dev/null \
    || die "the addon does not call cudaRuntimeGetVersion: gpu_info_cuda.cc was not linked in"
  # The fused kernels (native/kernels/*.cu): compiled by nvcc into vpt_kernels, registered at load.
  for src in native/kernels/*.cu; do
    [[ -f $OUT/CMakeFiles/vpt_kernels.dir/$src.o ]] || die "no object file for $src in ${OUT#"$ROOT"/}"
  done
  grep -q "vpt-native: fused CUDA kernels for architectures" "$OUT/configure.log" \
    || die "CMake did not build the fused CUDA kernels (log: $OUT/configure.log)"
  nm -D --undefined-only "$ADDON" | grep -w __cudaRegisterFatBinary >/dev/null \
    || die "the addon registers no CUDA fatbinary: the fused kernels were not linked in"
}

# NCCL's headers come from the nvidia-nccl wheel; the addon must then reference ProcessGroupNCCL.
check_nccl_backend() {
  grep -q "vpt-native: NCCL headers in" "$OUT/configure.log" \
    || die "CMake found no nccl.h (log: $OUT/configure.log): the CUDA build would lack the NCCL backend"
  nm -DC --undefined-only "$ADDON" | grep 'c10d::ProcessGroupNCCL::ProcessGroupNCCL' >/dev/null \
    || die "the addon does not construct c10d::ProcessGroupNCCL: process_group_nccl_cuda.cc was not compiled with NCCL"
}

check_dynamic_section() {
  local dyn runpath
  dyn=$(readelf -d "$ADDON")
  grep -q 'NEEDED.*\[libtorch_cuda\.so\]' <<<"$dyn" \
    || die "the addon does not NEED libtorch_cuda.so (was --no-as-needed dropped?)"
  runpath=$(sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p' <<<"$dyn")
  [[ ":$runpath:" == *":$TORCH_ROOT/lib:"* ]] \
    || die "RUNPATH '$runpath' does not contain $TORCH_ROOT/lib"
}

# ldd only maps the libraries (no code runs), so it works without a GPU.
check_no_system_torch() {
  local torch_libs
  torch_libs=$(ldd "$ADDON" | grep -E '^\s*lib(torch|c10)[^ ]*\.so' || true)
  [[ -n $torch_libs ]] || die "ldd shows no libtorch/libc10 for the addon"
  if grep -v "=> $TORCH_ROOT/lib/" <<<"$torch_libs" >&2; then
    die "the libtorch/libc10 above do not resolve into $TORCH_ROOT/lib"
  fi
}

main() {
  local nvcc cuda_root torch_version
  nvcc=$(find_nvcc)
  if [[ -z $nvcc ]]; then
    log "SKIPPED: nvcc not found"
    exit 0
  fi
  cuda_root=$(cuda_root_of "$nvcc")
  log "nvcc $nvcc, CUDA toolkit $cuda_root"

  SECONDS=0
  install_wheels
  log "wheels ready after ${SECONDS}s"
  SECONDS=0
  build_addon "$cuda_root"
  log "configured and built in ${SECONDS}s"
  check_cuda_sources_built
  check_nccl_backend
  check_dynamic_section
  check_no_system_torch

  torch_version=$(sed -n 's/.*vpt-native: LibTorch \([^ ]*\) (CUDA).*/\1/p' "$OUT/configure.log")
  log "OK: compiled and linked against LibTorch $torch_version CUDA" \
    "(toolkit $cuda_root, archs $TORCH_CUDA_ARCH_LIST): ${ADDON#"$ROOT"/}"
}

main "$@"
