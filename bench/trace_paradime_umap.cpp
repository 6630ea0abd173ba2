// Per-epoch trace of ParametricUMAP at the seed tutorial's settings (docs/parametric.md, "Collapse"): the loss of
// each epoch, the spread of the embedding (std of each coordinate, the median distance to the centroid) and, at the
// end, kNN recall@10 and 10-NN accuracy.
//
//   trace_paradime_umap SEED [N=3000] [THREADS=2]   (reads tests/data/fmnist_4000_pca50.npy)
//
// Environment: NSR, EPOCHS, INIT_EPOCHS, INIT_BATCH, INIT_LR override the settings; STOP_AFTER_INIT=1 stops after the
// spectral phase. The hidden layers' dead units (Softplus derivative < 1e-6 on every point) are printed at the end.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "nembed/io/npy.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/parametric/parametric_dr.hpp"
#include "nembed/train/trainer.hpp"

using namespace nembed;

namespace {
void spread(const MatrixView<double>& Y, double& sx, double& sy, double& med) {
    const std::size_t n = Y.rows;
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < n; ++i) mx += Y(i, 0), my += Y(i, 1);
    mx /= double(n), my /= double(n);
    double vx = 0, vy = 0;
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double dx = Y(i, 0) - mx, dy = Y(i, 1) - my;
        vx += dx * dx, vy += dy * dy;
        r[i] = std::sqrt(dx * dx + dy * dy);
    }
    sx = std::sqrt(vx / double(n)), sy = std::sqrt(vy / double(n));
    std::nth_element(r.begin(), r.begin() + long(n / 2), r.end());
    med = r[n / 2];
}
// Per hidden layer: the units whose Softplus derivative σ(z) stays below 1e-6 on every point (no gradient passes).
void dead_units(const Mlp& net, MatrixView<float> X) {
    const auto& w = net.widths();
    const std::vector<float>& p = net.parameters();
    std::vector<std::vector<double>> H(X.rows);
    for (std::size_t i = 0; i < X.rows; ++i) H[i].assign(X.row(i), X.row(i) + X.cols);
    for (std::size_t l = 0; l + 2 < w.size(); ++l) {
        const float* W = p.data() + net.weight_offset(l);
        const float* b = W + w[l + 1] * w[l];
        std::size_t dead = 0;
        double zmax_all = -1e300;
        std::vector<double> zmax(w[l + 1], -1e300);
        for (std::size_t i = 0; i < X.rows; ++i) {
            std::vector<double> out(w[l + 1]);
            for (std::size_t u = 0; u < w[l + 1]; ++u) {
                double z = b[u];
                for (std::size_t k = 0; k < w[l]; ++k) z += double(W[u * w[l] + k]) * H[i][k];
                zmax[u] = std::max(zmax[u], z);
                out[u] = z > 20 ? z : std::log1p(std::exp(z));
            }
            H[i] = out;
        }
        for (double z : zmax) dead += z < std::log(1e-6), zmax_all = std::max(zmax_all, z);
        std::printf("layer %zu: %zu of %zu units dead (max pre-activation over the data %.3g)\n", l, dead, w[l + 1],
                    zmax_all);
    }
}
} // namespace

int main(int argc, char** argv) {
    const std::uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 0;
    const std::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 3000;
    const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
    const NdArray a = read_npy(std::string(NEMBED_SOURCE_DIR) + "/tests/data/fmnist_4000_pca50.npy");
    const NdArray l = read_npy(std::string(NEMBED_SOURCE_DIR) + "/tests/data/fmnist_4000_labels.npy");
    const std::size_t d = a.shape[1];
    std::vector<float> all(a.size());
    a.copy_to(all.data());
    std::vector<std::int64_t> lab(l.size());
    l.copy_to(lab.data());
    lab.resize(n);
    MatrixView<float> X{all.data(), n, d};
    paradime::ParametricUMAPOptions o;
    o.n_neighbors = 15;
    o.min_dist = 0.1;
    o.epochs = 60;
    o.batches_per_epoch = 10;
    o.batch_size = 500;
    o.learning_rate = 0.01;
    if (const char* e = std::getenv("NSR")) o.negative_sampling_rate = std::atoi(e);
    if (const char* e = std::getenv("EPOCHS")) o.epochs = std::atoi(e);
    if (const char* e = std::getenv("INIT_EPOCHS")) o.init_epochs = std::atoi(e);
    if (const char* e = std::getenv("INIT_BATCH")) o.init_batch_size = std::atoi(e);
    if (const char* e = std::getenv("INIT_LR")) o.init_learning_rate = std::atof(e);
    paradime::ParametricDROptions po;
    po.hidden_dims = {100, 100, 100};
    po.seed = seed;
    po.n_threads = threads;
    paradime::ParametricDR dr = paradime::ParametricUMAP(o, po);
    const bool stop_after_init = std::getenv("STOP_AFTER_INIT") != nullptr;
    TrainHooks h;
    h.callback_every = 1;
    h.evaluate_loss = true;
    h.callback = [&](const TrainEvent& e) {
        double sx, sy, med;
        spread(e.embedding, sx, sy, med);
        std::printf("seed %llu %-14s epoch %3d loss %12.6g std %10.4g %10.4g med_r %10.4g\n",
                    static_cast<unsigned long long>(seed), e.phase.c_str(), e.phase_step, e.loss, sx, sy, med);
        return stop_after_init && e.phase == "spectral_init" && e.phase_step == e.phase_steps;
    };
    dr.train(X, h);
    dead_units(dr.network(), X);
    const Matrix<double> Y = dr.apply(X);
    std::printf("seed %llu final recall@10 %.4f accuracy %.4f\n", static_cast<unsigned long long>(seed),
                knn_recall(X, Y.view(), 10, threads), knn_accuracy(Y.view(), lab, 10, threads));
}
