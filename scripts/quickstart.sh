#!/usr/bin/env bash
# Installs everything, builds nembed and runs the main job: t-SNE of Fashion-MNIST (70 000 images, PCA to 50)
# to out/fmnist_tsne.npy, a PNG (out/fmnist_tsne.png) and quality figures (printed and in out/fmnist_metrics.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
launcher=(); command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build -j "$(nproc)" --target nembed_cli
mkdir -p out
D=/usr/share/datasets/fashion-mnist
./build/nembed tsne "$D/train-images-idx3-ubyte.gz" "$D/t10k-images-idx3-ubyte.gz" \
  --labels "$D/train-labels-idx1-ubyte.gz" "$D/t10k-labels-idx1-ubyte.gz" \
  --scale 255 --pca 50 -j -1 --seed 42 \
  -o out/fmnist_tsne.npy --plot out/fmnist_tsne.png --metrics out/fmnist_metrics.json "$@"
