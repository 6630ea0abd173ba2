#pragma once
// Private parts of the edge-epoch plan (train/edge_epoch_plan.hpp): the listing of a row's pairs for one epoch,
// shared by the per-row path and the vector lanes, and the lanes' kernel for 2-D UMAP-curve rows.
#include <cstdint>
#include <vector>

#include "nembed/core/sparse.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/train/edge_epoch_plan.hpp"

namespace nembed::detail {

constexpr std::uint32_t kEdgeAttract = 0x80000000u;  // flag on a pair's tail index: attraction (else repulsion)

// What one epoch's pair listing reads.
struct EdgePairSource {
    const CsrMatrix<double>* graph;
    UmapEdgeSchedule* schedule;
    std::int64_t epoch;
    std::uint64_t seed;
    SamplingFamily family;
    bool self_graph;  // heads and tails are the same points: mirror the attraction, skip self negatives
    std::size_t n_tail;
    std::uint64_t edge_offset = 0;  // global position of the graph's first edge (the negatives' stream key)
};

// Row i's pairs of this epoch in order (tail | kEdgeAttract for an attraction, the tail for a negative) into the
// first entries of `out` (grown as needed, never shrunk), advancing its edges' schedule; returns their number.
// `edges` (when not null) gets the edge of each attraction pair.
std::size_t list_edge_pairs(const EdgePairSource& src, std::size_t i, std::vector<std::uint32_t>& out,
                            std::vector<offset_t>* edges);

// One epoch of rows [rb, re) of a 2-D or 3-D (d) fit or transform with the UMAP curve, 8 rows per vector and several
// vectors in flight; bitwise the per-row path's result (Bce<UmapCurve>'s coefficients, the same pairs in order).
struct UmapLanesArgs {
    EdgePairSource pairs;
    double a, b;          // the UMAP curve
    double alpha;         // the step's learning rate
    double gamma;         // repulsion strength
    double exaggeration;  // factor on the attraction
};
// The tails are T (N × d doubles) or, when Tf is not null, Tf (N × d floats, a fit's snapshot rounded to float: T
// then holds the same values widened, which the per-row path reads).
void umap_rows_lanes(std::size_t d, double* H, const double* T, const float* Tf, const UmapLanesArgs& args,
                     bool want_loss, std::size_t rb, std::size_t re, double* row_loss, double* row_pairs);

} // namespace nembed::detail
