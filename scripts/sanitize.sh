#!/usr/bin/env bash
# Builds the library, the CLI and the tests of the areas that parse input or index memory (io, neighbors,
# affinity, core) with AddressSanitizer + UndefinedBehaviorSanitizer (NEMBED_SANITIZE=ON, build-asan) and runs
# them, with the CLI's error-path tests. Any sanitizer report fails the run (-fno-sanitize-recover=undefined,
# halt_on_error). Env: JOBS, SANITIZE_LABELS (ctest label regex), CXX_SANITIZE (compiler, default c++), BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
BUILD=${BUILD_DIR:-build-asan}
LABELS=${SANITIZE_LABELS:-"^(io|neighbors|affinity|core)$"}
launcher=(); command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1: a fraction of -O3's compile time; sanitized code is slow either way.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1" \
      -DCMAKE_CXX_COMPILER="${CXX_SANITIZE:-c++}" -DNEMBED_SANITIZE=ON "${launcher[@]}" >/dev/null
# The test executables of the chosen areas (tests/<area>/test_*.cpp, tests/test_core.cpp) and the CLI.
targets=(nembed_cli nembed_test_core)
for f in tests/io/test_*.cpp tests/neighbors/test_*.cpp tests/affinity/test_*.cpp; do
  targets+=("nembed_$(basename "$f" .cpp)")
done
cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" -L "$LABELS"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" -R '^cli_(help|version|missing_file|error_is_one_line|affinity_bad_kind|model_files)$'
