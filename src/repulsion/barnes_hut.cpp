// Barnes-Hut repulsion with openTSNE's tree (tsne.md §8): a 2^d-tree over the bounding cube, one point per leaf,
// coincident points merged, criterion (full cell side) / distance < theta; cell contributions count·w(D_com) and
// count·force_weight(D_com) for any Euclidean output kernel (repulsion.hpp says which, and why).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/types.hpp"
#include "nembed/repulsion/exact_sums.hpp"
#include "nembed/repulsion/repulsion.hpp"

namespace nembed {
namespace {

/// Below this depth a cell is narrower than the coordinates' resolution (side / 2^60); its points are merged.
constexpr int kMaxDepth = 60;

template <int D>
class BhTree {
public:
    static constexpr int kChildren = 1 << D;

    struct Node {
        double com[D];          ///< centre of mass
        double side;            ///< full side of the cell
        std::uint32_t count;    ///< points in the cell
        std::int32_t first;     ///< first child (children are contiguous); -1 for a leaf
        std::int32_t n_children;
    };

    /// Rebuilds the tree over Y (N x D) into the reused arrays; serial and deterministic.
    void build(MatrixView<double> Y) {
        nodes_.clear();
        const std::size_t n = Y.rows;
        data_ = Y.data;
        perm_.resize(n);
        tmp_.resize(n);
        leaf_of_.resize(n);
        if (n == 0) return;
        for (std::size_t i = 0; i < n; ++i) perm_[i] = static_cast<index_t>(i);
        double lo[D], hi[D];
        for (int k = 0; k < D; ++k) lo[k] = hi[k] = Y.data[k];
        for (std::size_t i = 1; i < n; ++i) {
            const double* y = Y.data + i * D;
            for (int k = 0; k < D; ++k) {
                lo[k] = std::min(lo[k], y[k]);
                hi[k] = std::max(hi[k], y[k]);
            }
        }
        double side = 0.0, center[D];
        for (int k = 0; k < D; ++k) {
            side = std::max(side, hi[k] - lo[k]);
            center[k] = 0.5 * (hi[k] + lo[k]);
        }
        nodes_.push_back(Node{});
        build_node(0, 0, n, center, 0.5 * side, 0);
    }

    /// Sums over the tree for point q; `self_leaf` is the leaf holding q itself (-1 for an outside query).
    template <typename K>
    double traverse(const double* q, std::int32_t self_leaf, double theta2, const K& kernel, double* f) const {
        double acc[D] = {};
        double z = 0.0;
        if (nodes_.empty()) {
            for (int k = 0; k < D; ++k) f[k] = 0.0;
            return 0.0;
        }
        std::array<std::int32_t, kMaxDepth * kChildren + 8> stack;
        std::size_t top = 0;
        stack[top++] = 0;
        while (top > 0) {
            const std::int32_t ni = stack[--top];
            const Node& node = nodes_[static_cast<std::size_t>(ni)];
            double diff[D];
            double d2 = 0.0;
            for (int k = 0; k < D; ++k) {
                diff[k] = q[k] - node.com[k];
                d2 += diff[k] * diff[k];
            }
            double count;
            if (node.first < 0) {
                count = static_cast<double>(node.count) - (ni == self_leaf ? 1.0 : 0.0);
                if (count <= 0.0) continue;
            } else if (node.side * node.side < theta2 * d2) {
                count = static_cast<double>(node.count);
            } else {
                for (std::int32_t c = node.n_children - 1; c >= 0; --c) stack[top++] = node.first + c;
                continue;
            }
            double w, wf;
            detail::kernel_eval(kernel, d2, w, wf);
            z += count * w;
            const double cf = count * wf;
            for (int k = 0; k < D; ++k) acc[k] += cf * diff[k];
        }
        for (int k = 0; k < D; ++k) f[k] = acc[k];
        return z;
    }

    std::int32_t leaf_of(std::size_t i) const { return leaf_of_[i]; }
    std::size_t n_nodes() const { return nodes_.size(); }

private:
    void make_leaf(std::size_t ni, std::size_t b, std::size_t e, double side) {
        Node& node = nodes_[ni];
        node.first = -1;
        node.n_children = 0;
        node.side = side;
        node.count = static_cast<std::uint32_t>(e - b);
        if (e - b == 1) {
            const double* y = data_ + static_cast<std::size_t>(perm_[b]) * D;
            for (int k = 0; k < D; ++k) node.com[k] = y[k];
        } else {
            double s[D] = {};
            for (std::size_t p = b; p < e; ++p) {
                const double* y = data_ + static_cast<std::size_t>(perm_[p]) * D;
                for (int k = 0; k < D; ++k) s[k] += y[k];
            }
            for (int k = 0; k < D; ++k) node.com[k] = s[k] / static_cast<double>(e - b);
        }
        for (std::size_t p = b; p < e; ++p) leaf_of_[static_cast<std::size_t>(perm_[p])] = static_cast<std::int32_t>(ni);
    }

    void build_node(std::size_t ni, std::size_t b, std::size_t e, const double* center, double half, int depth) {
        if (e - b == 1 || depth >= kMaxDepth || !(half > 0.0)) {
            make_leaf(ni, b, e, 2.0 * half);
            return;
        }
        // Stable counting sort of perm_[b, e) by child code (bit k set when coordinate k >= centre).
        std::size_t counts[kChildren] = {};
        auto code_of = [&](index_t p) {
            const double* y = data_ + static_cast<std::size_t>(p) * D;
            int c = 0;
            for (int k = 0; k < D; ++k) c |= (y[k] >= center[k] ? 1 : 0) << k;
            return c;
        };
        for (std::size_t p = b; p < e; ++p) counts[code_of(perm_[p])]++;
        std::size_t starts[kChildren + 1];
        starts[0] = b;
        for (int c = 0; c < kChildren; ++c) starts[c + 1] = starts[c] + counts[c];
        std::size_t next[kChildren];
        for (int c = 0; c < kChildren; ++c) next[c] = starts[c];
        for (std::size_t p = b; p < e; ++p) tmp_[next[code_of(perm_[p])]++] = perm_[p];
        std::copy(tmp_.begin() + static_cast<std::ptrdiff_t>(b), tmp_.begin() + static_cast<std::ptrdiff_t>(e),
                  perm_.begin() + static_cast<std::ptrdiff_t>(b));

        int n_children = 0;
        for (int c = 0; c < kChildren; ++c) n_children += counts[c] > 0 ? 1 : 0;
        const std::size_t first = nodes_.size();
        nodes_.resize(first + static_cast<std::size_t>(n_children));
        {
            Node& node = nodes_[ni];
            node.first = static_cast<std::int32_t>(first);
            node.n_children = n_children;
            node.side = 2.0 * half;
            node.count = static_cast<std::uint32_t>(e - b);
        }
        const double h2 = 0.5 * half;
        std::size_t child = first;
        for (int c = 0; c < kChildren; ++c) {
            if (counts[c] == 0) continue;
            double cc[D];
            for (int k = 0; k < D; ++k) cc[k] = center[k] + (((c >> k) & 1) ? h2 : -h2);
            build_node(child, starts[c], starts[c + 1], cc, h2, depth + 1);
            ++child;
        }
        double s[D] = {};
        for (std::size_t ch = first; ch < first + static_cast<std::size_t>(n_children); ++ch) {
            const double cnt = static_cast<double>(nodes_[ch].count);
            for (int k = 0; k < D; ++k) s[k] += cnt * nodes_[ch].com[k];
        }
        Node& node = nodes_[ni];
        for (int k = 0; k < D; ++k) node.com[k] = s[k] / static_cast<double>(node.count);
    }

    const double* data_ = nullptr;
    std::vector<Node> nodes_;
    std::vector<index_t> perm_, tmp_;
    std::vector<std::int32_t> leaf_of_;
};

class BarnesHutRepulsion final : public Repulsion {
public:
    BarnesHutRepulsion(double theta, int n_threads) : theta_(theta), n_threads_(n_threads) {
        require(std::isfinite(theta) && theta >= 0, "Barnes-Hut repulsion: theta must be >= 0, got " + std::to_string(theta));
        require(n_threads >= 1, "Barnes-Hut repulsion: n_threads must be >= 1, got " + std::to_string(n_threads));
    }

    std::string name() const override { return "Barnes-Hut repulsion"; }

    std::string unsupported_reason(const OutputKernel& kernel, std::size_t d) const override {
        if (std::string why = detail::euclidean_kernel_reason(kernel); !why.empty()) return why;
        if (d < 1 || d > 3) return "Barnes-Hut repulsion supports 1, 2 or 3 output dimensions";
        // A summarised cell holds points within its diagonal side·√d of its centre of mass, which is > side/θ
        // away: with θ√d < 1 each of them is at least (1 − θ√d)·distance from the query, away from the singularity.
        const double limit = 1.0 / std::sqrt(static_cast<double>(d));
        if (detail::singular_at_zero(kernel) && !(theta_ < limit))
            return "the kernel is singular at D = 0, so a summarised cell must not hold points near the query, "
                   "which needs theta < 1/sqrt(d) = " + std::to_string(limit) + "; got theta = " +
                   std::to_string(theta_);
        return "";
    }

    double compute(MatrixView<double> Y, const OutputKernel& kernel, double* forces) override {
        detail::check_repulsion_input("Barnes-Hut repulsion", Y, kernel, forces);
        check_dim(Y.cols);
        detail::require_supported(*this, kernel, Y.cols);
        return visit_kernel(kernel, [&](const auto& k) {
            switch (Y.cols) {
                case 1: return run_full(tree1_, Y, k, forces);
                case 2: return run_full(tree2_, Y, k, forces);
                default: return run_full(tree3_, Y, k, forces);
            }
        });
    }

    void compute_partial(MatrixView<double> reference, MatrixView<double> queries, const OutputKernel& kernel,
                         double* forces, double* z) override {
        detail::check_partial_input("Barnes-Hut repulsion", reference, queries, kernel, forces, z);
        check_dim(queries.cols);
        detail::require_supported(*this, kernel, queries.cols);
        visit_kernel(kernel, [&](const auto& k) {
            switch (queries.cols) {
                case 1: run_partial(tree1_, reference, queries, k, forces, z); break;
                case 2: run_partial(tree2_, reference, queries, k, forces, z); break;
                default: run_partial(tree3_, reference, queries, k, forces, z); break;
            }
        });
    }

private:
    static void check_dim(std::size_t d) {
        require(d >= 1 && d <= 3,
                "Barnes-Hut repulsion supports 1, 2 or 3 output dimensions, got " + std::to_string(d));
    }

    template <int D, typename K>
    double run_full(BhTree<D>& tree, MatrixView<double> Y, const K& kernel, double* forces) {
        tree.build(Y);
        const double theta2 = theta_ * theta_;
        return fixed_block_sum(n_threads_, Y.rows, [&](std::size_t b, std::size_t e) {
            double s = 0.0;
            for (std::size_t i = b; i < e; ++i)
                s += tree.traverse(Y.row(i), tree.leaf_of(i), theta2, kernel, forces + i * D);
            return s;
        }, 256);
    }

    template <int D, typename K>
    void run_partial(BhTree<D>& tree, MatrixView<double> reference, MatrixView<double> queries, const K& kernel,
                     double* forces, double* z) {
        tree.build(reference);
        const double theta2 = theta_ * theta_;
        parallel_for(n_threads_, queries.rows, [&](std::size_t i) {
            z[i] = tree.traverse(queries.row(i), -1, theta2, kernel, forces + i * D);
        });
    }

    double theta_;
    int n_threads_;
    BhTree<1> tree1_;
    BhTree<2> tree2_;
    BhTree<3> tree3_;
};

} // namespace

std::unique_ptr<Repulsion> make_barnes_hut_repulsion(double theta, int n_threads) {
    return std::make_unique<BarnesHutRepulsion>(theta, n_threads);
}

} // namespace nembed
