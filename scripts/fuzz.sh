#!/usr/bin/env bash
# fuzz.sh: coverage-guided fuzzing of the native parsers with clang's libFuzzer under
# AddressSanitizer + UndefinedBehaviorSanitizer. One target per file in native/fuzz/; the
# committed corpora (seeds and every crasher found, as regressions) are in test/fuzz/corpus/.
#
#   scripts/fuzz.sh build                       compile build-fuzz/<target> for every target
#   scripts/fuzz.sh replay                      build, then run every committed corpus file once
#                                               (npm test runs this; CI installs clang-14 and
#                                               libfuzzer-14-dev in .ci/run)
#   scripts/fuzz.sh run <target> <runs> <secs>  a campaign: -runs=<runs> -max_total_time=<secs>,
#                                               one job, new inputs in build-fuzz/corpus/<target>
#                                               (merge the interesting ones into test/fuzz/corpus
#                                               by hand: libFuzzer's -merge=1)
#
# Targets: jpeg_decode (no LibTorch), tensor_file and image_batch (linked to the LibTorch the
# addon was built with: build/vpt-build.json's torchRoot, else $LIBTORCH). LibTorch is built with
# gcc and libstdc++; clang++ compiles against the same libstdc++. LibTorch itself is not
# instrumented, so ASan sees our code's accesses, not its internals; the same holds for the
# system libjpeg-turbo.
# Without clang++-14 or libFuzzer, `replay` says so and exits 0; `build` and `run` fail.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT=$PWD
readonly OUT=${FUZZ_OUT:-$ROOT/build-fuzz}
readonly CORPUS=$ROOT/test/fuzz/corpus
readonly CXX=${FUZZ_CXX:-clang++-14}
readonly TARGETS=(jpeg_decode tensor_file image_batch)

# Halt on the first report; LibTorch's process-lifetime allocations are not leaks of ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# LibTorch's intra-op threads only spin on a busy machine at these sizes.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

have_toolchain() {
  command -v "$CXX" >/dev/null 2>&1 || return 1
  local dir
  dir=$("$CXX" -print-resource-dir 2>/dev/null) || return 1
  [ -f "$dir/lib/linux/libclang_rt.fuzzer-x86_64.a" ] || [ -n "$(ls "$dir"/lib/*/libclang_rt.fuzzer.a 2>/dev/null)" ]
}

torch_root() {
  local root=""
  if [ -f "$ROOT/build/vpt-build.json" ]; then
    root=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).torchRoot || "")' \
      "$ROOT/build/vpt-build.json")
  fi
  [ -n "$root" ] || root=${LIBTORCH:-$ROOT/.deps/torch-cpu/torch}
  [ -f "$root/include/ATen/ATen.h" ] || { echo "fuzz: no LibTorch at $root (build the addon first)" >&2; return 1; }
  echo "$root"
}

# Sanitizers, coverage, and enough optimisation that a million runs take minutes.
CXXFLAGS=(-std=gnu++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
  -fno-sanitize-recover=undefined -fno-sanitize=vptr -I"$ROOT/native" -w)

# compile <object> <source> [flags...]: skipped when the object is newer than its source and the
# headers it was built from (a .d file, as make would).
compile() {
  local obj=$1 src=$2
  shift 2
  if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ -f "$obj.d" ] &&
    ! sed -e 's/^[^:]*://' -e 's/\\$//' "$obj.d" | tr ' ' '\n' | grep -v '^$' |
      while read -r dep; do [ "$dep" -nt "$obj" ] && echo newer; done | grep -q newer; then
    return 0
  fi
  mkdir -p "$(dirname "$obj")"
  local cc=("$CXX")
  command -v ccache >/dev/null 2>&1 && cc=(ccache "$CXX")
  CCACHE_BASEDIR=$ROOT "${cc[@]}" "${CXXFLAGS[@]}" "$@" -MD -MF "$obj.d" -c "$src" -o "$obj"
}

# Compiles in the background, as many at once as there are cores; `settle` waits for them all.
PIDS=()
FAILED=0
compile_bg() {
  compile "$@" &
  PIDS+=($!)
  if [ ${#PIDS[@]} -ge "$(nproc)" ]; then
    wait "${PIDS[0]}" || FAILED=1
    PIDS=("${PIDS[@]:1}")
  fi
}
settle() {
  for pid in "${PIDS[@]}"; do wait "$pid" || FAILED=1; done
  PIDS=()
  [ "$FAILED" -eq 0 ] || { echo "fuzz: compiling failed" >&2; return 1; }
}

build() {
  have_toolchain || { echo "fuzz: $CXX with libFuzzer (clang-14, libfuzzer-14-dev) not found" >&2; return 1; }
  local torch
  torch=$(torch_root)
  local torch_flags=(-isystem "$torch/include" -isystem "$torch/include/torch/csrc/api/include")
  local torch_libs=(-L"$torch/lib" -Wl,-rpath,"$torch/lib" -ltorch_cpu -lc10)
  local o=$OUT/obj
  # The JPEG path needs no LibTorch.
  compile_bg "$o/image_resample.o" native/data/image_resample.cc
  compile_bg "$o/jpeg_decode.o" native/data/jpeg_decode.cc
  compile_bg "$o/jpeg_decode_fuzz.o" native/fuzz/jpeg_decode_fuzz.cc
  for src in weights/tensor_file data/image_batch_u8 data/augment data/staged_upload fuzz/tensor_file_fuzz \
    fuzz/image_batch_fuzz; do
    compile_bg "$o/$(basename "$src").o" "native/$src.cc" "${torch_flags[@]}"
  done
  settle
  "$CXX" "${CXXFLAGS[@]}" "$o/jpeg_decode_fuzz.o" "$o/jpeg_decode.o" "$o/image_resample.o" -ljpeg \
    -o "$OUT/jpeg_decode"
  "$CXX" "${CXXFLAGS[@]}" "$o/tensor_file_fuzz.o" "$o/tensor_file.o" "${torch_libs[@]}" -o "$OUT/tensor_file"
  "$CXX" "${CXXFLAGS[@]}" "$o/image_batch_fuzz.o" "$o/image_batch_u8.o" "$o/augment.o" "$o/staged_upload.o" \
    "${torch_libs[@]}" -o "$OUT/image_batch"
}

# Every committed input once; a crash, sanitizer report or timeout fails.
replay() {
  if ! have_toolchain; then
    echo "fuzz: skipped corpus replay ($CXX with libFuzzer not found: apt-get install clang-14 libfuzzer-14-dev)"
    return 0
  fi
  local start=$SECONDS
  build
  echo "fuzz: built the targets in $((SECONDS - start)) s"
  for t in "${TARGETS[@]}"; do
    local n
    n=$(find "$CORPUS/$t" -type f | wc -l)
    local t0=$SECONDS
    # -runs=0 on a folder: read and execute each file once, then exit.
    "$OUT/$t" -runs=0 -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$OUT/" "$CORPUS/$t" >"$OUT/$t.replay.log" 2>&1 || {
      tail -40 "$OUT/$t.replay.log" >&2
      echo "fuzz: $t failed replaying test/fuzz/corpus/$t" >&2
      return 1
    }
    echo "fuzz: $t replayed $n inputs in $((SECONDS - t0)) s under ASan + UBSan"
  done
}

run_campaign() {
  local t=$1 runs=$2 secs=$3
  build
  local dict=()
  [ -f "$ROOT/test/fuzz/$t.dict" ] && dict=(-dict="$ROOT/test/fuzz/$t.dict")
  mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t"
  "$OUT/$t" -runs="$runs" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
    -malloc_limit_mb=2048 -print_final_stats=1 "${dict[@]}" -artifact_prefix="$OUT/crashes/$t/" \
    "$OUT/corpus/$t" "$CORPUS/$t"
}

case "${1:-}" in
  build) build ;;
  replay) replay ;;
  run)
    [ $# -eq 4 ] || { echo "usage: scripts/fuzz.sh run <${TARGETS[*]// /|}> <runs> <seconds>" >&2; exit 2; }
    run_campaign "$2" "$3" "$4"
    ;;
  *)
    echo "usage: scripts/fuzz.sh build | replay | run <target> <runs> <seconds>" >&2
    exit 2
    ;;
esac
