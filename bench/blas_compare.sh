#!/usr/bin/env bash
# The network's float32 GEMM shapes through OpenBLAS (the project's BLAS) and any other BLAS given, one thread,
# beside the core's FMA peak. Usage: bench/blas_compare.sh [other libblas.so ...]
# (e.g. Debian's BLIS: apt-get install libblis4-serial; /usr/lib/x86_64-linux-gnu/blis-serial/libblis.so.4)
# A library whose symbols carry a prefix: path:prefix (pip download scipy-openblas32: .../libscipy_openblas.so:scipy_).
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -O2 -mavx2 -mfma -o "$out/blas_compare" "$(dirname "$0")/blas_compare.c" -ldl
"$out/blas_compare" /usr/lib/x86_64-linux-gnu/libopenblas.so.0 "$@"
