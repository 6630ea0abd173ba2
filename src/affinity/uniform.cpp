#include "nembed/affinity/uniform.hpp"

#include "nembed/core/error.hpp"
#include "rows.hpp"

namespace nembed {

CsrMatrix<double> uniform_affinities(const KnnGraph& g, const UniformOptions& o) {
    affinity_detail::require_graph(g, "uniform affinities");
    if (o.conditional) {
        // openTSNE's Uniform.to_new: every neighbour weighs 1/k.
        std::vector<double> vals(g.n_points * g.k, 1.0 / static_cast<double>(g.k));
        return affinity_detail::graph_to_csr(g, vals, o.n_threads);
    }
    require(o.symmetrize == Symmetrization::none || o.symmetrize == Symmetrization::mean ||
                o.symmetrize == Symmetrization::max,
            "uniform affinities: symmetrize must be none, mean or max, got " + to_string(o.symmetrize));
    affinity_detail::require_self_graph(g, "uniform affinities");
    std::vector<double> ones(g.n_points * g.k, 1.0);
    CsrMatrix<double> P = affinity_detail::graph_to_csr(g, ones, o.n_threads);
    for (double& v : P.values) v = 1.0;  // a neighbour listed twice is still one edge
    P = symmetrize(P, o.symmetrize, o.n_threads);
    normalize_total(P, "uniform affinities");
    return P;
}

} // namespace nembed
