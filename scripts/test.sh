#!/usr/bin/env bash
# Installs everything, builds nembed (warnings are errors) and runs all tests: C++ via ctest, Python via pytest;
# then the sanitizer build of the input-facing tests (scripts/sanitize.sh) and the readers' fuzzers (scripts/fuzz.sh,
# FUZZ_SECONDS each). SKIP_SANITIZE=1 / SKIP_FUZZ=1 leave them out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=${JOBS:-$(nproc)}
launcher=(); command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DNEMBED_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build build -j "$JOBS"
ctest --test-dir build --output-on-failure -j "$JOBS"
if [ -f pyproject.toml ]; then
  python3 -m pip install -q --disable-pip-version-check --no-build-isolation . >&2
  # NEMBED_CLI: the command-line tool just built, for nembed.mpi's tests (the wheel does not install it).
  (cd python/tests && NEMBED_CLI="$PWD/../../build/nembed" python3 -m pytest -q)
fi
[ "${SKIP_SANITIZE:-0}" = 1 ] || JOBS=$JOBS bash scripts/sanitize.sh
[ "${SKIP_FUZZ:-0}" = 1 ] || JOBS=$JOBS FUZZ_SECONDS=${FUZZ_SECONDS:-60} bash scripts/fuzz.sh
