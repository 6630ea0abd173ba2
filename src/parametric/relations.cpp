// paraDime's global and batch relations (parametric/relations.hpp).
#include "nembed/parametric/relations.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "../core/isa_clones.hpp"

namespace nembed::paradime {

namespace {

// The loops of a triangular batch (DifferentiablePDist: the pairs i < j of b rows, row after row) over element-wise
// work, written so that they vectorise (ISA clones). Each does, per pair, the operations of the general pair loop in
// the same order: the same bits.

// Distances of the pairs of 2-D rows: (0 + t0²) + t1² is t0² + t1² (t0² ≥ 0).
NEMBED_ISA_CLONES void triangular_distances_2d(const double* __restrict Y, std::size_t b, double* __restrict out) {
    for (std::size_t i = 0; i < b; ++i) {
        const double y0 = Y[2 * i], y1 = Y[2 * i + 1];
        for (std::size_t j = i + 1; j < b; ++j) {
            const double t0 = y0 - Y[2 * j], t1 = y1 - Y[2 * j + 1];
            *out++ = std::sqrt(t0 * t0 + t1 * t1);
        }
    }
}

// StudentTTransform at α = 1 (elementwise_value's branch): 1 / (1 + x²).
NEMBED_ISA_CLONES void student_t1_values(const double* __restrict x, double* __restrict w, std::size_t m) {
    for (std::size_t p = 0; p < m; ++p) w[p] = 1.0 / (1.0 + x[p] * x[p]);
}

// g ← g · ∂w/∂x of StudentTTransform (elementwise_derivatives' dx: −w(α + 1)x / (α + x²)).
NEMBED_ISA_CLONES void student_t_backward(const double* __restrict x, const double* __restrict w, double al,
                                          double* __restrict g, std::size_t m) {
    for (std::size_t p = 0; p < m; ++p) g[p] *= -w[p] * (al + 1.0) * x[p] / (al + x[p] * x[p]);
}

// Normalize's backward, element-wise part: g ← (a·g − mult·go) / s.
NEMBED_ISA_CLONES void normalize_backward(double* g, std::size_t m, double a, double mult_go, double s) {
    for (std::size_t p = 0; p < m; ++p) g[p] = (a * g[p] - mult_go) / s;
}

// dL/dY of the distances of a triangular batch of 2-D rows: each row's own sum runs over j > i in order after the
// earlier rows' contributions, as in the general pair loop.
void triangular_distance_backward_2d(const double* Y, std::size_t b, const double* dist, const double* g, double* dY) {
    std::size_t p = 0;
    for (std::size_t i = 0; i < b; ++i) {
        const double y0 = Y[2 * i], y1 = Y[2 * i + 1];
        double a0 = dY[2 * i], a1 = dY[2 * i + 1];
        for (std::size_t j = i + 1; j < b; ++j, ++p) {
            if (dist[p] <= 0.0 || g[p] == 0.0) continue;
            const double c = g[p] / dist[p];
            const double d0 = c * (y0 - Y[2 * j]), d1 = c * (y1 - Y[2 * j + 1]);
            a0 += d0;
            a1 += d1;
            dY[2 * j] -= d0;
            dY[2 * j + 1] -= d1;
        }
        dY[2 * i] = a0;
        dY[2 * i + 1] = a1;
    }
}

} // namespace

GlobalRelationKind parse_global_relation(const std::string& name) {
    if (name == "PDist" || name == "pdist") return GlobalRelationKind::pdist;
    if (name == "NeighborBasedPDist" || name == "neighbor_based_pdist" || name == "neighbor")
        return GlobalRelationKind::neighbor_based_pdist;
    if (name == "Precomputed" || name == "precomputed" || name == "precomp") return GlobalRelationKind::precomputed;
    throw InvalidArgument("unknown global relations '" + name + "' (known: PDist, NeighborBasedPDist, Precomputed)");
}

BatchRelationKind parse_batch_relation(const std::string& name) {
    if (name == "DifferentiablePDist" || name == "differentiable_pdist" || name == "pdistdiff")
        return BatchRelationKind::differentiable_pdist;
    if (name == "DistsFromTo" || name == "dists_from_to" || name == "fromto") return BatchRelationKind::dists_from_to;
    throw InvalidArgument("unknown batch relations '" + name + "' (known: DifferentiablePDist, DistsFromTo)");
}

std::string to_string(GlobalRelationKind kind) {
    switch (kind) {
    case GlobalRelationKind::pdist: return "PDist";
    case GlobalRelationKind::neighbor_based_pdist: return "NeighborBasedPDist";
    case GlobalRelationKind::precomputed: return "Precomputed";
    }
    return "?";
}

std::string to_string(BatchRelationKind kind) {
    return kind == BatchRelationKind::differentiable_pdist ? "DifferentiablePDist" : "DistsFromTo";
}

void validate(const GlobalRelations& rel) {
    for (const Transform& t : rel.transform) {
        validate(t);
        if (rel.kind == GlobalRelationKind::pdist) {
            // PDist is never stored: a transform that needs whole rows (or the transpose) would densify it.
            require(t.kind == TransformKind::student_t || t.kind == TransformKind::modified_cauchy ||
                        t.kind == TransformKind::normalize || t.kind == TransformKind::zero_diagonal,
                    "PDist: " + to_string(t.kind) +
                        " needs whole rows of the n x n distances, which PDist does not store; use "
                        "NeighborBasedPDist (sparse) or Precomputed");
            require(!t.learnable, "PDist: transforms of global relations cannot be learnable");
        } else {
            require(acts_on_global(t.kind), to_string(rel.kind) + ": " + to_string(t.kind) +
                                                " transforms batch relations, not global ones");
        }
    }
}

void validate(const BatchRelations& rel) {
    for (const Transform& t : rel.transform) {
        validate(t);
        require(acts_on_batch(t.kind), to_string(rel.kind) + ": " + to_string(t.kind) +
                                           " transforms global relations, not batch ones");
    }
}

std::size_t neighbor_count(const GlobalRelations& rel, std::size_t n) {
    require(n >= 2, "NeighborBasedPDist needs at least 2 points");
    if (rel.n_neighbors > 0) return std::min(rel.n_neighbors, n - 1);
    double k = 0.0;
    bool any = false;
    for (const Transform& t : rel.transform) {
        if (t.kind == TransformKind::perplexity_based_rescale) {
            k = std::max(k, std::floor(3.0 * t.perplexity));
            any = true;
        } else if (t.kind == TransformKind::connectivity_based_rescale) {
            k = std::max(k, t.n_neighbors);
            any = true;
        }
    }
    if (!any) k = std::max(1.0, std::floor(0.05 * static_cast<double>(n)));
    return std::min(static_cast<std::size_t>(k), n - 1);
}

void GlobalRelationData::sub(std::span<const index_t> batch, std::vector<std::int64_t>& pos,
                             std::vector<double>& out) const {
    const std::size_t b = batch.size();
    out.assign(b * b, 0.0);
    if (lazy_pdist) {
        const std::size_t D = data.cols;
        for (std::size_t a = 0; a < b; ++a)
            for (std::size_t c = a + 1; c < b; ++c) {
                const float* x = data.row(static_cast<std::size_t>(batch[a]));
                const float* y = data.row(static_cast<std::size_t>(batch[c]));
                double s = 0.0;
                for (std::size_t k = 0; k < D; ++k) {
                    const double t = static_cast<double>(x[k]) - static_cast<double>(y[k]);
                    s += t * t;
                }
                double v = std::sqrt(s);
                for (std::size_t t = 0; t < elementwise.size(); ++t) v = elementwise_value(elementwise[t].kind, params[t], v);
                out[a * b + c] = out[c * b + a] = batch[a] == batch[c] ? 0.0 : scale * v;
            }
        return;
    }
    for (std::size_t a = 0; a < b; ++a) pos[static_cast<std::size_t>(batch[a])] = static_cast<std::int64_t>(a);
    for (std::size_t a = 0; a < b; ++a) {
        const auto i = static_cast<std::size_t>(batch[a]);
        for (offset_t p = sparse.indptr[i]; p < sparse.indptr[i + 1]; ++p) {
            const std::int64_t c = pos[static_cast<std::size_t>(sparse.indices[p])];
            if (c >= 0) out[a * b + static_cast<std::size_t>(c)] = sparse.values[p];
        }
    }
    for (std::size_t a = 0; a < b; ++a) pos[static_cast<std::size_t>(batch[a])] = -1;
}

void GlobalRelationData::triangular_pairs(std::span<const index_t> batch, std::vector<std::int64_t>& pos, bool normalize,
                                          std::vector<double>& p, std::vector<double>& p_t) const {
    require(!lazy_pdist, "triangular_pairs: sparse global relations only");
    const std::size_t b = batch.size(), m = b * (b - 1) / 2;
    p.assign(m, 0.0);
    p_t.assign(m, 0.0);
    for (std::size_t a = 0; a < b; ++a) pos[static_cast<std::size_t>(batch[a])] = static_cast<std::int64_t>(a);
    // The block's entries row by row in column order, the last of equal columns kept (sub() assigns in CSR order):
    // the sum below adds sub()'s nonzeros in its row-major order, so s has its bits.
    std::vector<std::pair<std::size_t, double>> row, all;
    std::vector<std::size_t> rows;
    for (std::size_t a = 0; a < b; ++a) {
        const auto i = static_cast<std::size_t>(batch[a]);
        row.clear();
        for (offset_t q = sparse.indptr[i]; q < sparse.indptr[i + 1]; ++q) {
            const std::int64_t c = pos[static_cast<std::size_t>(sparse.indices[q])];
            if (c >= 0) row.emplace_back(static_cast<std::size_t>(c), sparse.values[q]);
        }
        for (std::size_t k = 1; k < row.size(); ++k)  // insertion sort: stable, and a row holds a few entries
            for (std::size_t q = k; q > 0 && row[q].first < row[q - 1].first; --q) std::swap(row[q], row[q - 1]);
        for (std::size_t k = 0; k < row.size(); ++k) {
            if (k + 1 < row.size() && row[k + 1].first == row[k].first) continue;
            all.push_back(row[k]);
            rows.push_back(a);
        }
    }
    for (std::size_t a = 0; a < b; ++a) pos[static_cast<std::size_t>(batch[a])] = -1;
    double s = 1.0;
    if (normalize) {
        s = 0.0;
        for (const auto& e : all) s += e.second;
        if (s <= 0.0) s = 1.0;  // no relation inside the batch: p = 0
    }
    for (std::size_t k = 0; k < all.size(); ++k) {
        const std::size_t a = rows[k], c = all[k].first;
        if (a == c) continue;  // the diagonal is no pair
        const std::size_t lo = std::min(a, c), hi = std::max(a, c);
        const std::size_t pair = lo * b - lo * (lo + 1) / 2 + (hi - lo - 1);
        (a < c ? p : p_t)[pair] = all[k].second / s;
    }
}

CsrMatrix<double> knn_distance_rows(const KnnGraph& g, int n_threads) {
    const std::size_t n = g.n_points, k = g.k;
    CsrMatrix<double> m;
    m.n_rows = n;
    m.n_cols = g.n_reference;
    m.indptr.resize(n + 1);
    m.indices.resize(n * k);
    m.values.resize(n * k);
    std::vector<std::size_t> counts(n);
    parallelize(n_threads, n, [&](int, std::size_t i0, std::size_t i1) {
        std::vector<std::pair<index_t, double>> row(k);
        for (std::size_t i = i0; i < i1; ++i) {
            for (std::size_t j = 0; j < k; ++j) {
                const index_t c = g.neighbors(i)[j];
                require_lazy(c >= 0 && static_cast<std::size_t>(c) < g.n_reference,
                             [&] { return std::string("knn_distance_rows: index out of range"); });
                row[j] = {c, static_cast<double>(g.dists(i)[j])};
            }
            std::sort(row.begin(), row.end());
            // At i·k, compacted below if a row repeats a point (csr_from_triplets sums the repeats).
            std::size_t w = 0;
            for (std::size_t j = 0; j < k; ++j) {
                if (w > 0 && m.indices[i * k + w - 1] == row[j].first) {
                    m.values[i * k + w - 1] += row[j].second;
                    continue;
                }
                m.indices[i * k + w] = row[j].first;
                m.values[i * k + w] = row[j].second;
                ++w;
            }
            counts[i] = w;
        }
    });
    m.indptr[0] = 0;
    std::size_t at = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (at != i * k)
            for (std::size_t j = 0; j < counts[i]; ++j) {
                m.indices[at + j] = m.indices[i * k + j];
                m.values[at + j] = m.values[i * k + j];
            }
        at += counts[i];
        m.indptr[i + 1] = static_cast<offset_t>(at);
    }
    m.indices.resize(at);
    m.values.resize(at);
    return m;
}

GlobalRelationData compute_global_relations(const GlobalRelations& rel, MatrixView<float> X, int n_threads) {
    validate(rel);
    GlobalRelationData out;
    const std::size_t n = X.rows;
    if (rel.kind == GlobalRelationKind::pdist) {
        require(n >= 2, "PDist needs at least 2 points");
        out.lazy_pdist = true;
        out.data = X;
        // Normalize: the sum over all ordered pairs, in O(n²) time and O(1) memory; elementwise transforms before.
        for (const Transform& t : rel.transform) {
            if (t.kind == TransformKind::student_t || t.kind == TransformKind::modified_cauchy) {
                out.elementwise.push_back(t);
                out.params.push_back(initial_params(t));
            } else if (t.kind == TransformKind::normalize) {
                const double total = fixed_block_sum(n_threads, n, [&](std::size_t i0, std::size_t i1) {
                    double s = 0.0;
                    for (std::size_t i = i0; i < i1; ++i)
                    for (std::size_t j = 0; j < n; ++j) {
                        if (j == i) continue;
                        double d2 = 0.0;
                        for (std::size_t k = 0; k < X.cols; ++k) {
                            const double t2 = static_cast<double>(X(i, k)) - static_cast<double>(X(j, k));
                            d2 += t2 * t2;
                        }
                        double v = std::sqrt(d2);
                        for (std::size_t e = 0; e < out.elementwise.size(); ++e)
                            v = elementwise_value(out.elementwise[e].kind, out.params[e], v);
                        s += v;
                    }
                    return s;
                }, 16);
                require(total > 0, "Normalize: the PDist relations sum to 0");
                out.scale /= total;
            }
        }
        return out;
    }
    if (rel.kind == GlobalRelationKind::precomputed) {
        rel.relations.validate("Precomputed relations");
        require(rel.relations.n_rows == n && rel.relations.n_cols == n,
                "Precomputed: relations must be n x n for n = " + std::to_string(n) + " points, got " +
                    std::to_string(rel.relations.n_rows) + " x " + std::to_string(rel.relations.n_cols));
        out.sparse = rel.relations;
    } else {
        const std::size_t k = neighbor_count(rel, n);
        KnnOptions ko = rel.knn;
        ko.n_threads = n_threads;
        const KnnGraph g = find_neighbors(X, k, ko);
        // Rows near float32's limit (|x| ~ 3e38) give infinite distances: name that here rather than as a NaN sum
        // in a later transform.
        for (std::size_t p = 0; p < g.distances.size(); ++p)
            require_lazy(std::isfinite(g.distances[p]), [&] {
                return "NeighborBasedPDist: the distance from row " + std::to_string(p / k) +
                       " to a neighbour is not finite: the data's values are too large for float32 distances "
                       "(scale the data down)";
            });
        out.sparse = knn_distance_rows(g, n_threads);
    }
    for (const Transform& t : rel.transform) apply_global(t, out.sparse, n_threads);
    return out;
}

void compute_batch_relations(const BatchRelations& rel, MatrixView<double> Yb, const std::vector<TransformParams>& params,
                             BatchRelationData& out, const std::vector<std::int32_t>* from,
                             const std::vector<std::int32_t>* to) {
    require(params.size() == rel.transform.size(), "batch relations: one parameter set per transform expected");
    out.params = params;
    const bool triangular = rel.kind == BatchRelationKind::differentiable_pdist;
    if (triangular) {
        // The pair list depends on b only: kept from the last call when b is the same (buffers reused per batch).
        const std::size_t b = Yb.rows;
        if (!(out.triangular && out.n_items == b && out.from.size() == b * (b - 1) / 2)) {
            out.n_items = b;
            out.from.clear();
            out.to.clear();
            out.from.reserve(b * (b - 1) / 2);
            out.to.reserve(b * (b - 1) / 2);
            for (std::size_t i = 0; i < b; ++i)
                for (std::size_t j = i + 1; j < b; ++j) {
                    out.from.push_back(static_cast<std::int32_t>(i));
                    out.to.push_back(static_cast<std::int32_t>(j));
                }
        }
    } else {
        require(from && to && from->size() == to->size(),
                "DistsFromTo needs pairs: use it with sampling 'negative_edge'");
        out.from = *from;
        out.to = *to;
        out.n_items = out.from.size();
    }
    out.triangular = triangular;
    const std::size_t m = out.from.size(), d = Yb.cols;
    out.stages.resize(1 + rel.transform.size());
    out.stages[0].resize(m);
    if (triangular && d == 2) {
        triangular_distances_2d(Yb.data, Yb.rows, out.stages[0].data());
    } else {
        for (std::size_t p = 0; p < m; ++p) {
            const double* y = Yb.row(static_cast<std::size_t>(out.from[p]));
            const double* z = Yb.row(static_cast<std::size_t>(out.to[p]));
            double s = 0.0;
            for (std::size_t k = 0; k < d; ++k) s += (y[k] - z[k]) * (y[k] - z[k]);
            out.stages[0][p] = std::sqrt(s);
        }
    }
    for (std::size_t t = 0; t < rel.transform.size(); ++t) {
        const std::vector<double>& in = out.stages[t];
        std::vector<double>& v = out.stages[t + 1];
        v.resize(m);
        const TransformKind kind = rel.transform[t].kind;
        if (kind == TransformKind::normalize) {
            // Triangular: each pair stands for two entries of the square form (paraDime divides by 2·sum).
            double s = 0.0;
            for (double x : in) s += x;
            s *= out.triangular ? 2.0 : 1.0;
            // A batch of one point (the last batch when n = 1 mod batch_size) has no pairs: nothing to normalise,
            // and its loss is 0, as torch's sums over empty tensors.
            require(s > 0 || m == 0, "Normalize: the batch relations sum to 0");
            for (std::size_t p = 0; p < m; ++p) v[p] = in[p] / s;
        } else if (kind == TransformKind::zero_diagonal) {
            std::copy(in.begin(), in.end(), v.begin());  // pairs never hold the diagonal of a triangular form
        } else if (kind == TransformKind::student_t && params[t].alpha == 1.0) {
            student_t1_values(in.data(), v.data(), m);
        } else {
            for (std::size_t p = 0; p < m; ++p) v[p] = elementwise_value(kind, params[t], in[p]);
        }
    }
}

void batch_relations_backward(const BatchRelations& rel, MatrixView<double> Yb, const BatchRelationData& data,
                              std::vector<double> g, double* dYb, std::vector<TransformParams>& dparams,
                              double attraction) {
    batch_relations_backward_in_place(rel, Yb, data, g, dYb, dparams, attraction);
}

void batch_relations_backward_in_place(const BatchRelations& rel, MatrixView<double> Yb, const BatchRelationData& data,
                                       std::vector<double>& g, double* dYb, std::vector<TransformParams>& dparams,
                                       double attraction) {
    const std::size_t m = data.n_pairs(), d = Yb.cols;
    dparams.resize(rel.transform.size(), TransformParams{0.0, 0.0, 0.0});
    bool exaggerated = attraction == 1.0;  // applied at the last Normalize (or to the whole gradient without one)
    for (std::size_t t = rel.transform.size(); t-- > 0;) {
        const std::vector<double>& in = data.stages[t];
        const std::vector<double>& outv = data.stages[t + 1];
        const TransformKind kind = rel.transform[t].kind;
        if (kind == TransformKind::normalize) {
            const double mult = data.triangular ? 2.0 : 1.0;
            double s = 0.0, go = 0.0;
            for (std::size_t p = 0; p < m; ++p) {
                s += in[p];
                go += g[p] * outv[p];
            }
            s *= mult;
            const double a = exaggerated ? 1.0 : attraction;
            exaggerated = true;
            normalize_backward(g.data(), m, a, mult * go, s);
        } else if (kind == TransformKind::zero_diagonal) {
            continue;
        } else if (kind == TransformKind::student_t && !rel.transform[t].learnable) {
            student_t_backward(in.data(), outv.data(), data.params[t].alpha, g.data(), m);
        } else {
            double g0 = 0.0, g1 = 0.0;
            const bool learn = rel.transform[t].learnable;
            for (std::size_t p = 0; p < m; ++p) {
                const ElementwiseDerivatives e = elementwise_derivatives(kind, data.params[t], in[p], outv[p], learn);
                g0 += g[p] * e.dp0;
                g1 += g[p] * e.dp1;
                g[p] *= e.dx;
            }
            if (rel.transform[t].learnable) {
                if (kind == TransformKind::student_t) {
                    dparams[t].alpha += g0;
                } else {
                    dparams[t].a += g0;
                    dparams[t].b += g1;
                }
            }
        }
    }
    if (!exaggerated)
        for (double& x : g) x *= attraction;
    // Distances: ∂‖y_i − y_j‖/∂y_i = (y_i − y_j)/d (0 at d = 0, torch's subgradient).
    if (data.triangular && d == 2) {
        triangular_distance_backward_2d(Yb.data, Yb.rows, data.stages[0].data(), g.data(), dYb);
        return;
    }
    for (std::size_t p = 0; p < m; ++p) {
        const double dist = data.stages[0][p];
        if (dist <= 0.0 || g[p] == 0.0) continue;
        const std::size_t i = static_cast<std::size_t>(data.from[p]), j = static_cast<std::size_t>(data.to[p]);
        const double c = g[p] / dist;
        for (std::size_t k = 0; k < d; ++k) {
            const double diff = c * (Yb(i, k) - Yb(j, k));
            dYb[i * d + k] += diff;
            dYb[j * d + k] -= diff;
        }
    }
}

} // namespace nembed::paradime
