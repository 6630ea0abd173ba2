#!/usr/bin/env bash
# Bench-only virtual environment with the peers (never runtime dependencies of nembed):
# openTSNE 1.0.4 built from source against FFTW (as the t-SNE issue requires), FIt-SNE (fitsne, FFTW), umap-learn,
# and cne (contrastive-ne) on PyPI's torch: the CUDA build, which runs on the CPU when no GPU is present (download.
# pytorch.org's CPU-only wheels are not reachable from every machine; PyPI's torch pulls ~3 GB of CUDA libraries).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
dpkg-query -W -f='${Status}' libfftw3-dev 2>/dev/null | grep -q "install ok installed" || \
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libfftw3-dev >/dev/null; }
VENV=${VENV:-.venv-bench}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check numpy scipy scikit-learn cython setuptools wheel psutil
# Source builds so that openTSNE and FIt-SNE link FFTW (the PyPI openTSNE wheels ship numpy's FFT instead).
"$VENV/bin/pip" install -q --disable-pip-version-check --no-build-isolation --no-binary opentsne "opentsne==1.0.4"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-build-isolation fitsne || echo "fitsne did not install" >&2
"$VENV/bin/pip" install -q --disable-pip-version-check umap-learn || echo "umap-learn did not install" >&2
"$VENV/bin/pip" install -q --disable-pip-version-check torch contrastive-ne || echo "cne (torch) did not install" >&2
# TorchDR 0.5 (issue #16) with faiss-cpu, its default kNN backend for InfoTSNE, LargeVis, UMAP and PACMAP.
"$VENV/bin/pip" install -q --disable-pip-version-check "torchdr==0.5" faiss-cpu || echo "torchdr did not install" >&2
# paraDime 1.1 (bench_paradime.sh), without its dependency resolution (it imports cerberus and ruamel.yaml)
"$VENV/bin/pip" install -q --disable-pip-version-check cerberus ruamel.yaml && "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "paradime==1.1.0" || echo "paradime did not install" >&2
