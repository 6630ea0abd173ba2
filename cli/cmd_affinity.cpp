// nembed affinity: input affinities of every kind (affinity/), written as a CSR matrix in three .npy files
// (scipy: sp.csr_matrix((data, indices, indptr), shape=(N, N))).
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "outputs.hpp"
#include "nembed/affinity/fixed_sigma.hpp"
#include "nembed/affinity/fuzzy.hpp"
#include "nembed/affinity/multiscale.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/affinity/uniform.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/npy.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed::cli {
namespace {

struct AffinityCli {
    CommonOptions common;
    std::string kind = "perplexity";
    std::vector<double> perplexities{30.0};
    std::string mode = "mixture";
    double sigma = 1.0;
    std::size_t k = 0;
    std::string symmetrize = "max";
    double local_connectivity = 1.0;
    double set_op_mix_ratio = 1.0;
    std::string neighbors = "auto";
    std::string metric = "euclidean";
};

void run(const AffinityCli& c) {
    const CommonOptions& o = c.common;
    configure_logging(o);
    // The three CSR files are checked first and replaced together.
    std::string stem = o.output;
    if (file_extension(stem) == ".npy") stem.resize(stem.size() - 4);
    const std::string f_indptr = stem + "_indptr.npy", f_indices = stem + "_indices.npy", f_data = stem + "_data.npy";
    OutputSet out;
    out.add("-o (indptr)", f_indptr, OutputKind::npy);
    out.add("-o (indices)", f_indices, OutputKind::npy);
    out.add("-o (data)", f_data, OutputKind::npy);
    auto X = load_inputs(o);
    const std::size_t n = X.rows();
    require(n >= 2, "affinities need at least 2 points");
    std::vector<double> perps;
    std::size_t k = c.k;
    if (c.kind == "perplexity") {
        perps = clean_perplexities(n, c.perplexities);
        if (k == 0) k = multiscale_neighbors(n, perps);
    } else if (k == 0) {
        k = c.kind == "fuzzy" ? 14 : 30;  // umap-learn's n_neighbors 15 (self included); openTSNE's k 30
    }
    require(k < n, "-k " + std::to_string(k) + " must be below the number of points (" + std::to_string(n) + ")");
    KnnOptions ko;
    ko.method = parse_knn_method(c.neighbors);
    require_affinity_metric(c.metric);
    ko.metric = parse_metric(c.metric);
    ko.n_threads = o.n_threads();
    ko.seed = o.seed;
    Timer t;
    KnnGraph g = find_neighbors(X.view(), k, ko);
    const double t_knn = t.seconds();
    t.reset();
    CsrMatrix<double> P;
    if (c.kind == "perplexity") {
        MultiscaleOptions mo;
        mo.perplexities = perps;
        mo.mode = parse_multiscale_mode(c.mode);
        mo.n_threads = o.n_threads();
        P = multiscale_affinities(g, mo);
    } else if (c.kind == "fixed-sigma") {
        FixedSigmaOptions fo;
        fo.sigma = c.sigma;
        fo.n_threads = o.n_threads();
        P = fixed_sigma_affinities(g, fo);
    } else if (c.kind == "uniform") {
        UniformOptions uo;
        uo.symmetrize = parse_symmetrization(c.symmetrize);
        uo.n_threads = o.n_threads();
        P = uniform_affinities(g, uo);
    } else if (c.kind == "fuzzy") {
        FuzzyOptions fo;
        fo.local_connectivity = c.local_connectivity;
        fo.set_op_mix_ratio = c.set_op_mix_ratio;
        fo.n_threads = o.n_threads();
        P = fuzzy_simplicial_set(g, fo);
    } else {
        throw InvalidArgument("--kind must be perplexity, fixed-sigma, uniform or fuzzy, got '" + c.kind + "'");
    }
    std::ostringstream msg;
    msg << "affinities (" << c.kind << ", k = " << k << ", " << P.nnz() << " non-zeros): kNN " << t_knn
        << " s, affinities " << t.seconds() << " s";
    say(o, msg.str());
    write_npy(out.staged(f_indptr), std::vector<std::int64_t>(P.indptr.begin(), P.indptr.end()));
    write_npy(out.staged(f_indices), std::vector<std::int64_t>(P.indices.begin(), P.indices.end()));
    write_npy(out.staged(f_data), P.values);
    out.commit();
}

} // namespace

void register_affinity(CLI::App& app) {
    auto c = std::make_shared<AffinityCli>();
    auto* sub = app.add_subcommand(
        "affinity", "Input affinities P as CSR: writes OUTPUT_indptr.npy, OUTPUT_indices.npy and OUTPUT_data.npy");
    add_common_options(sub, c->common, true);
    sub->get_option("-o")->description("Output prefix: writes PREFIX_indptr.npy, PREFIX_indices.npy, PREFIX_data.npy");
    sub->add_option("--kind", c->kind, "perplexity (openTSNE), fixed-sigma, uniform or fuzzy (UMAP)")
        ->capture_default_str();
    sub->add_option("--perplexity", c->perplexities, "One or more perplexities (several: multiscale)")
        ->delimiter(',')
        ->capture_default_str();
    sub->add_option("--multiscale", c->mode, "Several perplexities: mixture (openTSNE's MultiscaleMixture) or average")
        ->capture_default_str();
    sub->add_option("--sigma", c->sigma, "fixed-sigma: the kernel width")->capture_default_str();
    sub->add_option("-k", c->k, "Neighbours per point (0 = 3 x perplexity; 30 for uniform/fixed-sigma; 14 for fuzzy)")
        ->capture_default_str();
    sub->add_option("--symmetrize", c->symmetrize, "uniform: max, mean or none")->capture_default_str();
    sub->add_option("--local-connectivity", c->local_connectivity, "fuzzy: umap-learn's local_connectivity")
        ->capture_default_str();
    sub->add_option("--set-op-mix-ratio", c->set_op_mix_ratio, "fuzzy: 1 = union, 0 = intersection")
        ->capture_default_str();
    sub->add_option("--neighbors", c->neighbors, "kNN method: auto, exact or hnsw")->capture_default_str();
    sub->add_option("--metric", c->metric, "euclidean or cosine")->capture_default_str();
    sub->callback([c] { run(*c); });
}

} // namespace nembed::cli
