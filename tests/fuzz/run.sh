#!/usr/bin/env bash
# tests/fuzz/run.sh — build the libFuzzer harnesses with clang (ASan + UBSan) and run each
# for a bounded time, one after the other, starting from the committed seed corpus.
#
#   tests/fuzz/run.sh [seconds per fuzzer] [NAME...]     (default 30 s, every harness)
#
# The harnesses, one per parser of outside input: idx (MNIST files, raw and .gz), cifar
# (CIFAR-10/100 binary), safetensors (checkpoints into a model), image (image files through
# the image-folder loader), options (the programs' command line), metrics (the metrics CSV
# a resumed run reads back), npy (.npy files, as ember-inspect reads them), arch (the
# architecture language: --arch specs and files).
#
# Needs clang and libFuzzer's runtime (Debian 12: clang, libclang-rt-14-dev). Builds into
# build-fuzz/ (or $FUZZ_OUT); new corpus entries go to build-fuzz/corpus-NAME, the
# committed seeds in tests/fuzz/corpus/NAME stay as they are. A crash stops the run with a
# non-zero exit and leaves the input in build-fuzz/crash-NAME-*; copy it into
# tests/fuzz/corpus/NAME, where tests/test_data_fuzz_replay.c replays it in the normal suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
shift $(( $# > 0 ? 1 : 0 ))
out=${FUZZ_OUT:-build-fuzz}
cc=${FUZZ_CC:-clang}
mkdir -p "$out"
# what meson's configure_file writes for the library (the kernel tier a tape gets)
echo '#define EM_DEFAULT_KERNELS "fast"' >"$out/ember_config.h"

flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. -I"$out")
# what each harness links: the parser alone where it stands alone; the safetensors reader
# with the whole model/checkpoint stack it feeds
data_link=(data/reader.c data/dataset.c data/mnist.c data/cifar10.c core/errors.c core/wfile.c -lz -lm)
# (exercises/tier.c, an exercise build's reference table, is not under these folders)
mapfile -t model_sources < <(find core layers optim io -name '*.c' | sort)
st_link=("${model_sources[@]}" $(pkg-config --cflags --libs openblas libcjson) -lm)
# the image decoders compiled in (tests/fuzz/stb_impl.c), so they are instrumented too
image_link=(data/imagefolder.c data/dataset.c core/errors.c tests/fuzz/stb_impl.c
            $(pkg-config --cflags stb) -lm)
# the architecture language, with the layers it builds
arch_link=(examples/common/arch.c examples/common/arch_build.c examples/common/arch_torch.c
           "${st_link[@]}")
# the options take the kernel tier's name from the library's tables and check --model,
# --arch and --norm by building the network: the language, the presets, the whole library
options_link=(examples/common/options.c examples/common/network.c examples/common/models.c
              "${arch_link[@]}")
metrics_link=(io/metrics.c core/errors.c core/wfile.c -lm)
npy_link=(io/npy_read.c core/errors.c -lm)

# name, max input length
all=("idx 4096" "cifar 16384" "safetensors 16384" "image 8192" "options 1024" "metrics 4096"
     "npy 4096" "arch 1024")
fuzzers=()
for entry in "${all[@]}"; do
    read -r name _ <<<"$entry"
    if [ $# -eq 0 ] || [[ " $* " == *" $name "* ]]; then fuzzers+=("$entry"); fi
done
[ ${#fuzzers[@]} -gt 0 ] || { echo "run.sh: no harness named $*" >&2; exit 2; }
for entry in "${fuzzers[@]}"; do
    read -r name max_len <<<"$entry"
    case $name in
    idx | cifar) link=("${data_link[@]}") ;;
    safetensors) link=("${st_link[@]}") ;;
    image) link=("${image_link[@]}") ;;
    options) link=("${options_link[@]}") ;;
    metrics) link=("${metrics_link[@]}") ;;
    npy) link=("${npy_link[@]}") ;;
    arch) link=("${arch_link[@]}") ;;
    esac
    "$cc" "${flags[@]}" "tests/fuzz/fuzz_$name.c" "${link[@]}" -o "$out/fuzz_$name"
done

status=0
for entry in "${fuzzers[@]}"; do
    read -r name max_len <<<"$entry"
    mkdir -p "$out/corpus-$name"
    log="$out/fuzz_$name.log"
    echo "fuzz: $name for ${secs}s"
    if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
        timeout $((secs + 60)) "$out/fuzz_$name" -max_total_time="$secs" -max_len="$max_len" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/crash-$name-" "$out/corpus-$name" "tests/fuzz/corpus/$name" \
        >"$log" 2>&1; then
        echo "fuzz: $name FAILED — see $log and $out/crash-$name-*" >&2
        tail -40 "$log" >&2
        status=1
        continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz: $name clean: ${runs:-?} executions in ${secs}s, $cov"
done
exit $status
