// Where the time of paraDime's two timed routines goes (bench/paradime_run.py, issue #17): the seed tutorial's
// ParametricUMAP (hidden 100,100,100; spectral phase 10 epochs x batch 500 at lr 0.01; 60 epochs x 10 batches of
// 500 edges, 3 negatives, lr 0.01; n_neighbors 30, min_dist 0.1) or ParametricTSNE at paraDime's defaults, on the
// 784-pixel images bench/bench_paradime.sh writes. Per part: wall and CPU seconds (all threads); the network's
// rows per phase; with LABELS, recall@10 and 10-NN accuracy of the result.
//
//   bench_paradime_parts umap|tsne X.npy [THREADS=2] [SEED=0] [bf16] [LABELS.npy] [OUT.npy]
//
// NORMALIZE=0: the network reads the raw rows (no input map; paraDime's behaviour).
// COUNT=1: the network is wrapped to count the rows of its forward passes per phase (and their products' FLOPs),
// then the CPU seconds of the products alone are not separated: use perf for that.
//
// The routines are built as nembed.paradime builds them for paradime_run.py (the same C++ objects), so the
// timings are those of the Python run without the interpreter.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_clock.hpp"
#include "nembed/io/npy.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/parametric/parametric_dr.hpp"

using namespace nembed;

namespace {
struct Clock {
    std::chrono::steady_clock::time_point w = std::chrono::steady_clock::now();
    double c = bench::cpu_seconds();
    void lap(const char* what) {
        const auto w1 = std::chrono::steady_clock::now();
        const double c1 = bench::cpu_seconds();
        std::printf("%-28s wall %7.3f s  cpu %7.3f s\n", what, std::chrono::duration<double>(w1 - w).count(), c1 - c);
        w = w1;
        c = c1;
    }
};
// Forwards to the network, counting the rows of every training forward pass.
class Counting final : public Parametrization {
public:
    explicit Counting(NetworkParametrization& net) : net_(net) {}
    std::size_t n_points() const override { return net_.n_points(); }
    std::size_t n_components() const override { return net_.n_components(); }
    void forward(std::span<const index_t> batch, double* out) override {
        rows += batch.size();
        ++batches;
        net_.forward(batch, out);
    }
    void backward(std::span<const index_t> batch, const double* dY) override { net_.backward(batch, dY); }
    void step(Optimizer& optimizer, double lr, int n_threads) override { net_.step(optimizer, lr, n_threads); }
    Matrix<double> embedding() override { return net_.embedding(); }
    std::size_t rows = 0, batches = 0;

private:
    NetworkParametrization& net_;
};
} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_paradime_parts umap|tsne X.npy [THREADS] [SEED] [f32|bf16] [LABELS] [OUT]\n");
        return 2;
    }
    const std::string method = argv[1];
    const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
    const std::uint64_t seed = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 0;
    const bool bf16 = argc > 5 && std::string(argv[5]) == "bf16";
    const NdArray a = read_npy(argv[2]);
    std::vector<float> x(a.size());
    a.copy_to(x.data());
    MatrixView<float> X{x.data(), a.shape[0], a.shape[1]};

    paradime::ParametricDROptions po;
    po.seed = seed;
    po.n_threads = threads;
    if (const char* e = std::getenv("NORMALIZE")) po.normalize_inputs = std::string(e) != "0";  // A/B of the input map
    if (const char* e = std::getenv("ROW_NORM")) po.input_row_norm = std::atof(e);  // the map's target (0: unit RMS)
    if (bf16) po.network_precision = Precision::bf16;
    paradime::ParametricDR dr = [&] {
        if (method == "umap") {
            paradime::ParametricUMAPOptions o;
            o.n_neighbors = 30;
            o.min_dist = 0.1;
            o.init_epochs = 10;
            o.init_batch_size = 500;
            o.init_learning_rate = 0.01;
            o.epochs = 60;
            o.batches_per_epoch = 10;
            o.batch_size = 500;
            o.negative_sampling_rate = 3;
            o.learning_rate = 0.01;
            po.hidden_dims = {100, 100, 100};
            return paradime::ParametricUMAP(o, po);
        }
        return paradime::ParametricTSNE({}, po);
    }();

    Clock total;
    Clock t;
    dr.compute_global_relations(X);
    t.lap("global relations");
    dr.compute_derived_data(X);
    t.lap("derived data");
    TrainHooks h;
    std::string phase;
    Clock tp;
    h.progress = [&](const TrainEvent& e) {
        if (e.phase_step == e.phase_steps) tp.lap(("phase " + e.phase).c_str());
    };
    if (std::getenv("COUNT")) {
        // The built-in network as ParametricDR::train builds it (batch phases: chunks of 256).
        MlpOptions mo;
        mo.hidden.assign(po.hidden_dims.begin(), po.hidden_dims.end());
        mo.hidden_activation = po.hidden_activation;
        mo.precision = po.network_precision;
        mo.seed = po.seed;
        mo.chunk_rows = 256;
        auto data = std::make_shared<const Matrix<float>>(X.rows, X.cols, std::vector<float>(X.data, X.data + X.size()));
        NetworkParametrization net(data, Mlp(X.cols, po.out_dim, mo), threads);
        Counting c(net);
        std::size_t last_rows = 0, last_batches = 0;
        const std::vector<std::size_t>& w = net.network().widths();
        double fwd = 0, bwd = 0;  // FLOPs per row: forward products; backward dW (all layers) + dX (all but the first)
        for (std::size_t l = 0; l + 1 < w.size(); ++l) {
            fwd += 2.0 * double(w[l]) * double(w[l + 1]);
            bwd += 2.0 * double(w[l]) * double(w[l + 1]) * (l == 0 ? 1.0 : 2.0);
        }
        h.progress = [&](const TrainEvent& e) {
            if (e.phase_step != e.phase_steps) return;
            const std::size_t r = c.rows - last_rows, nb = c.batches - last_batches;
            std::printf("phase %-14s %zu batches, %zu rows (%.0f per batch), products %.1f GFLOP\n", e.phase.c_str(),
                        nb, r, double(r) / double(nb), double(r) * (fwd + bwd) * 1e-9);
            tp.lap(("phase " + e.phase).c_str());
            last_rows = c.rows, last_batches = c.batches;
        };
        dr.train(X, c, h);
        t.lap("training (all phases)");
        return 0;  // the routine's apply() needs the built-in network of train(X)
    } else {
        dr.train(X, h);
    }
    t.lap("training (all phases)");
    total.lap("TOTAL (timed as paradime_run)");
    const Matrix<double> Y = dr.apply(X);
    t.lap("apply");
    if (argc > 6) {
        const NdArray l = read_npy(argv[6]);
        std::vector<std::int64_t> lab(l.size());
        l.copy_to(lab.data());
        std::printf("recall@10 %.4f accuracy %.4f\n", knn_recall(X, Y.view(), 10, threads),
                    knn_accuracy(Y.view(), lab, 10, threads));
    }
    if (argc > 7) {
        write_npy(argv[7], Y.view());
    }
}
