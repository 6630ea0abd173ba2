// The parametric routines' quality gap to the non-parametric methods (issue #17 item 5; docs/parametric.md,
// "Where the gap comes from"): one run of ParametricTSNE (paraDime's defaults) or ParametricUMAP (the seed
// tutorial's settings) on the first 5 000 Fashion-MNIST training images (784 pixels / 255), scored on the training
// points and on the next 1 000 images embedded by the trained network. Driven by bench/paradime_gap.sh.
//
//   paradime_gap prep DIR                         writes DIR/{Xtr,Xte}.npy (float32) and DIR/{ltr,lte}.npy
//   paradime_gap score DIR Ytr.npy Yte.npy        scores a non-parametric run's embeddings the same way
//   paradime_gap tsne|umap DIR EPOCH_FACTOR HIDDEN ACT [THREADS=2] [SEED=0]
//       EPOCH_FACTOR multiplies the main phase's epochs (t-SNE 30, UMAP 60); HIDDEN "100,50"; ACT softplus|relu.
//       "table" as HIDDEN trains a free embedding table (no network) with the same phases, started at the routine's
//       derived positions (PCA / spectral): the same batch loss without a network.
// Environment: FINAL_EPOCHS, FINAL_BATCH, FINAL_LR add a last phase of the main loss with that batch size and rate;
// LR_ANNEAL (linear|cosine) decays the main phase's rate; MAIN_LR replaces the main phase's rate (a table needs a
// larger one than a network: Adam moves a parameter by about the rate per step); TABLE_INIT (an .npy of the training
// points' positions) and TABLE_SCALE start the table there instead (e.g. t-SNE's map: does the batch loss keep it?).
// The line ends with the main loss's mean per-epoch sum over the last three epochs of the last phase and the map's
// RMS radius: with a rate of ~0 and a TABLE_INIT this is the batch loss of a given map. FIT_TARGET (an .npy of the
// training points' positions, e.g. t-SNE's map) replaces the position phase's targets and stops after that phase
// (INIT_EPOCHS epochs): can the network represent that map? (t-SNE only.) POS_SCALE multiplies the position phase's
// targets (PCA / spectral): the map the relation loss starts from, at a larger scale.
//
// Prints one line: training recall@10 / 10-NN accuracy, held-out recall / accuracy (the held-out points scored among
// themselves, as `nembed evaluate` on the held-out set) and the CPU seconds (user + system, all threads) of the
// training (relations, derived data and every phase; not the data loading or the scoring).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "nembed/io/idx.hpp"
#include "nembed/io/npy.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/parametric/parametric_dr.hpp"
#include "nembed/train/parametrization.hpp"
#include "bench_clock.hpp"

using namespace nembed;
using nembed::bench::cpu_seconds;

namespace {
constexpr std::size_t n_train = 5000, n_test = 1000;

struct Data {
    std::vector<float> xtr, xte;
    std::vector<std::int64_t> ltr, lte;
    std::size_t d = 0;
    MatrixView<float> Xtr() const { return {xtr.data(), n_train, d}; }
    MatrixView<float> Xte() const { return {xte.data(), n_test, d}; }
};

Data load(const std::string& dir) {
    Data s;
    const NdArray a = read_npy(dir + "/Xtr.npy"), b = read_npy(dir + "/Xte.npy");
    const NdArray la = read_npy(dir + "/ltr.npy"), lb = read_npy(dir + "/lte.npy");
    s.d = a.shape[1];
    s.xtr.resize(a.size()), s.xte.resize(b.size()), s.ltr.resize(la.size()), s.lte.resize(lb.size());
    a.copy_to(s.xtr.data()), b.copy_to(s.xte.data()), la.copy_to(s.ltr.data()), lb.copy_to(s.lte.data());
    return s;
}

void prep(const std::string& dir) {
    const std::string base = "/usr/share/datasets/fashion-mnist/train-";
    const NdArray img = read_idx(base + "images-idx3-ubyte.gz"), lab = read_idx(base + "labels-idx1-ubyte.gz");
    const std::size_t d = img.size() / img.shape[0];
    std::vector<float> x(img.size());
    img.copy_to(x.data());
    for (float& v : x) v /= 255.0f;
    std::vector<std::int64_t> l(lab.size());
    lab.copy_to(l.data());
    write_npy(dir + "/Xtr.npy", MatrixView<float>{x.data(), n_train, d});
    write_npy(dir + "/Xte.npy", MatrixView<float>{x.data() + n_train * d, n_test, d});
    write_npy(dir + "/ltr.npy", std::vector<std::int64_t>(l.begin(), l.begin() + long(n_train)));
    write_npy(dir + "/lte.npy", std::vector<std::int64_t>(l.begin() + long(n_train), l.begin() + long(n_train + n_test)));
}

void report(const Data& s, MatrixView<double> Ytr, MatrixView<double> Yte, int threads, double cpu) {
    std::printf("train %.4f %.4f held %.4f %.4f cpu %.1f", knn_recall(s.Xtr(), Ytr, 10, threads),
                knn_accuracy(Ytr, s.ltr, 10, threads), knn_recall(s.Xte(), Yte, 10, threads),
                knn_accuracy(Yte, s.lte, 10, threads), cpu);
}

void report_loss(const paradime::ParametricDR& dr) {
    const paradime::PhaseHistory& h = dr.histories().back();
    double sum = 0;
    int m = 0;
    for (const auto& [name, v] : h.losses)
        for (std::size_t e = v.size() >= 3 ? v.size() - 3 : 0; e < v.size(); ++e) sum += v[e], ++m;
    std::printf(" loss %.6g radius %.4g\n", m ? sum / m : 0.0, h.radius);
}

Matrix<double> read_embedding(const std::string& path) {
    const NdArray a = read_npy(path);
    Matrix<double> Y(a.shape[0], a.shape[1]);
    a.copy_to(Y.data());
    return Y;
}

std::vector<std::size_t> parse_widths(const std::string& s) {
    std::vector<std::size_t> w;
    std::stringstream ss(s);
    for (std::string t; std::getline(ss, t, ',');) w.push_back(std::stoul(t));
    return w;
}
} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: paradime_gap prep|score|tsne|umap DIR ... (see the file comment)\n");
        return 2;
    }
    const std::string mode = argv[1], dir = argv[2];
    if (mode == "prep") {
        prep(dir);
        return 0;
    }
    const Data s = load(dir);
    if (mode == "score") {
        const Matrix<double> a = read_embedding(argv[3]), b = read_embedding(argv[4]);
        std::printf("train %.4f %.4f held %.4f %.4f\n", knn_recall(s.Xtr(), a.view(), 10, 2),
                    knn_accuracy(a.view(), s.ltr, 10, 2), knn_recall(s.Xte(), b.view(), 10, 2),
                    knn_accuracy(b.view(), s.lte, 10, 2));
        return 0;
    }
    const double factor = std::atof(argv[3]);
    const std::string hidden = argv[4], act = argv[5];
    const int threads = argc > 6 ? std::atoi(argv[6]) : 2;
    const std::uint64_t seed = argc > 7 ? std::strtoull(argv[7], nullptr, 10) : 0;
    const char* lr_anneal = std::getenv("LR_ANNEAL");
    const char* main_lr = std::getenv("MAIN_LR");

    paradime::ParametricDROptions po;
    po.seed = seed;
    po.n_threads = threads;
    paradime::ParametricDR dr = [&] {
        if (mode == "tsne") {
            paradime::ParametricTSNEOptions o;  // paraDime's defaults
            o.epochs = int(30 * factor + 0.5);
            if (lr_anneal) o.lr_anneal = lr_anneal;
            if (main_lr) o.learning_rate = std::atof(main_lr), o.init_learning_rate = 0.01;
            if (const char* e = std::getenv("INIT_EPOCHS")) o.init_epochs = std::atoi(e);
            return paradime::ParametricTSNE(o, po);
        }
        paradime::ParametricUMAPOptions o;  // the seed tutorial (docs/parametric.md, "Collapse")
        o.n_neighbors = 30;
        o.min_dist = 0.1;
        o.init_epochs = 10;
        o.init_batch_size = 500;
        o.init_learning_rate = 0.01;
        o.epochs = int(60 * factor + 0.5);
        o.batches_per_epoch = 10;
        o.batch_size = 500;
        o.negative_sampling_rate = 3;
        o.learning_rate = 0.01;
        if (lr_anneal) o.lr_anneal = lr_anneal;
        if (main_lr) o.learning_rate = std::atof(main_lr);
        return paradime::ParametricUMAP(o, po);
    }();
    if (const char* e = std::getenv("FINAL_EPOCHS")) {
        paradime::TrainingPhase p = dr.training_phases().back();
        p.name = "final";
        p.epochs = std::atoi(e);
        p.lr_anneal = LrAnneal::none;
        if (const char* b = std::getenv("FINAL_BATCH")) p.batch_size = std::atoi(b);
        if (const char* r = std::getenv("FINAL_LR")) p.learning_rate = std::atof(r);
        dr.add_training_phase(p);
    }
    const double t0 = cpu_seconds();
    Matrix<double> Ytr, Yte;
    if (hidden == "table") {
        // The same phases on a free table started at the derived positions: the batch loss without a network.
        dr.compute_global_relations(s.Xtr());
        dr.compute_derived_data(s.Xtr());
        const std::string key = mode == "tsne" ? "pca" : "spectral";
        Matrix<double> Y0 = dr.dataset().positions.at(key);
        if (const char* init = std::getenv("TABLE_INIT")) {
            Y0 = read_embedding(init);
            const double scale = std::getenv("TABLE_SCALE") ? std::atof(std::getenv("TABLE_SCALE")) : 1.0;
            for (std::size_t i = 0; i < Y0.size(); ++i) Y0.data()[i] *= scale;
        }
        EmbeddingTable table(std::move(Y0));
        dr.train(s.Xtr(), table);
        Ytr = table.Y();
    } else {
        MlpOptions mo;
        for (std::size_t w : parse_widths(hidden)) mo.hidden.push_back(long(w));
        mo.hidden_activation = act == "relu" ? Activation::relu : Activation::softplus;
        mo.seed = seed;
        auto X = std::make_shared<const Matrix<float>>(n_train, s.d, s.xtr);
        NetworkParametrization model(X, Mlp(s.d, 2, mo), threads);
        TrainHooks hooks;
        if (const char* sc = std::getenv("POS_SCALE")) {
            dr.compute_global_relations(s.Xtr());
            dr.compute_derived_data(s.Xtr());
            const std::string key = mode == "tsne" ? "pca" : "spectral";
            Matrix<double> P = dr.dataset().positions.at(key);
            for (std::size_t i = 0; i < P.size(); ++i) P.data()[i] *= std::atof(sc);
            dr.add_to_dataset(key, std::move(P));
        }
        if (const char* target = std::getenv("FIT_TARGET")) {
            dr.add_to_dataset("pca", read_embedding(target));
            hooks.callback_every = 1;
            hooks.callback = [](const TrainEvent& e) { return e.phase == "pca_init" && e.phase_step == e.phase_steps; };
        }
        dr.train(s.Xtr(), model, hooks);
        Ytr = model.embedding();
        const double cpu = cpu_seconds() - t0;
        Yte = convert<double>(model.network().apply(s.Xte(), threads).view());
        report(s, Ytr.view(), Yte.view(), threads, cpu);
        report_loss(dr);
        return 0;
    }
    const double cpu = cpu_seconds() - t0;
    std::printf("train %.4f %.4f held - - cpu %.1f", knn_recall(s.Xtr(), Ytr.view(), 10, threads),
                knn_accuracy(Ytr.view(), s.ltr, 10, threads), cpu);
    report_loss(dr);
    return 0;
}
