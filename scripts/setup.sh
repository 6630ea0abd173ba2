#!/usr/bin/env bash
# Installs every system dependency of nembed on a fresh Debian (bookworm) machine. Idempotent.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
PKGS=(build-essential cmake ninja-build pkg-config ccache
      libeigen3-dev libspectra-dev libhnswlib-dev libcli11-dev nlohmann-json3-dev libcairo2-dev fonts-dejavu-core libhdf5-dev
      librandom123-dev libkissfft-dev libfftw3-dev libopenblas-dev libdnnl-dev zlib1g-dev libtbb-dev
      libopenmpi-dev openmpi-bin
      libgtest-dev libgmock-dev libbenchmark-dev
      clang libclang-rt-14-dev
      python3-dev dataset-fashion-mnist)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Python tooling for the package and its tests (PyPI).
PY=${PYTHON:-python3}
$PY -m pip install -q --disable-pip-version-check "numpy>=1.24" pytest "scikit-build-core>=0.10" "nanobind>=2.0" scipy scikit-learn matplotlib pynndescent annoy hnswlib anndata h5py "umap-learn==0.5.12" >&2
