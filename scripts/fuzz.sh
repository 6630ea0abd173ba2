#!/usr/bin/env bash
# Fuzzes every reader (npy, npz, csv, idx/gzip, sparse .npz, model directories; AnnData .h5ad on request) with libFuzzer, ASan and
# UBSan for a bounded time, on a copy of the committed seed corpus (tests/fuzz/corpus/<reader>, written by
# tests/fuzz/make_corpus.py). Fails on any crash, sanitizer report, leak, allocation above 2 GiB or escaping
# exception other than nembed's IoError / InvalidArgument.
# Env: FUZZ_SECONDS (per reader, default 30), JOBS (build parallelism), FUZZERS (default: all), BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-30}
JOBS=${JOBS:-$(nproc)}
BUILD=${BUILD_DIR:-build-fuzz}
# h5ad (AnnData through Debian's libhdf5 1.10.8) is run on request, FUZZERS=h5ad: its findings so far are inside
# libhdf5 (an endless loop parsing a corrupt global heap, docs/dropin.md), which nembed's code cannot guard.
FUZZERS=${FUZZERS:-"npy npz csv idx sparse model"}
CXX_FUZZ=${CXX_FUZZ:-$(command -v clang++ || command -v clang++-14 || true)}
[ -n "$CXX_FUZZ" ] || { echo "fuzz: clang++ not found (bash scripts/setup.sh installs clang)" >&2; exit 1; }
launcher=(); command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" \
      -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DNEMBED_FUZZ=ON -DNEMBED_BUILD_TESTS=OFF -DNEMBED_BUILD_CLI=OFF \
      "${launcher[@]}" >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target nembed_fuzzers
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp}
total=0; failed=()
for r in $FUZZERS; do
  mkdir -p "$work/$r" "$work/$r-artifacts"
  cp tests/fuzz/corpus/"$r"/* "$work/$r/"
  log="$work/$r.log"
  # One process, -rss_limit_mb/-malloc_limit_mb: a reader that allocates what a file declares is a finding.
  if "$BUILD/tests/fuzz/fuzz_$r" "$work/$r" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
       -max_len=65536 -timeout=20 -artifact_prefix="$work/$r-artifacts/" -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED; failed+=("$r")
    mkdir -p "$BUILD/findings" && cp -r "$work/$r-artifacts/." "$BUILD/findings/" 2>/dev/null || true
    tail -n 60 "$log" >&2
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  execs=${execs:-0}; total=$((total + execs))
  echo "fuzz: $r: $execs executions in ${SECONDS_EACH}s, $status"
done
echo "fuzz: total $total executions, ${#failed[@]} readers with findings${failed:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: crashing inputs copied to $BUILD/findings/" >&2; exit 1; }
