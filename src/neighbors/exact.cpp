#include "nembed/neighbors/exact.hpp"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/distance.hpp"

namespace nembed {
namespace {

using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// Query sub-blocks are at most 32 rows. The compile-time bound MaxRows = 32 on the product's destination also
// keeps Eigen from spawning its own OpenMP threads inside the GEMM (Eigen only parallelises products whose
// destination may exceed 32 rows), so all threading goes through nembed::parallelize.
constexpr Eigen::Index kSubRows = 32;
using DotBlock = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor, kSubRows, Eigen::Dynamic>;
constexpr std::size_t kSubBlocks = 8;                       // sub-blocks per task: 256 query rows
constexpr std::size_t kQueryBlock = kSubRows * kSubBlocks;  // rows per parallel task
constexpr std::size_t kRefBlock = 2048;                     // reference rows per GEMM (stays in L2)

class ExactIndex final : public KnnIndex {
public:
    ExactIndex(MatrixView<float> data, Metric metric, int n_threads)
        : data_(convert<float>(data)), metric_(metric), n_threads_(n_threads) {
        if (metric_ == Metric::cosine) work_ = normalize_rows(data_.view(), n_threads_);
        if (metric_ == Metric::euclidean) {
            sqnorms_.resize(data_.rows());
            parallel_for(n_threads_, data_.rows(), [&](std::size_t j) {
                double n = vector_norm(data_.row(j), data_.cols());
                sqnorms_[j] = static_cast<float>(n * n);
            });
        }
        exact_ = detail::ExactDistance(data_.view(), metric_, n_threads_);
    }

    std::size_t n_points() const override { return data_.rows(); }
    std::size_t n_dims() const override { return data_.cols(); }
    Metric metric() const override { return metric_; }

    KnnGraph self_neighbors(std::size_t k) const override {
        detail::check_self_k(k, n_points());
        return search(data_.view(), k, true);
    }

    KnnGraph query(MatrixView<float> queries, std::size_t k) const override {
        detail::check_query(queries, k, n_points(), n_dims());
        if (metric_ == Metric::cosine) {
            Matrix<float> qn = normalize_rows(queries, n_threads_);
            return search(queries, k, false, &qn);
        }
        return search(queries, k, false);
    }

private:
    // The matrix the GEMM runs on: normalised rows for cosine, the data otherwise.
    MatrixView<float> ref_work() const { return metric_ == Metric::cosine ? work_.view() : data_.view(); }

    KnnGraph search(MatrixView<float> queries, std::size_t k, bool self, const Matrix<float>* query_work = nullptr) const {
        const std::size_t n_q = queries.rows, n_ref = data_.rows(), dim = data_.cols();
        MatrixView<float> qwork = self ? ref_work() : (query_work ? query_work->view() : queries);
        MatrixView<float> rwork = ref_work();
        const std::size_t n_cand = std::min(k + exact_knn_extra_candidates, n_ref - (self ? 1 : 0));

        KnnGraph g;
        g.n_points = n_q;
        g.k = k;
        g.n_reference = n_ref;
        g.indices.assign(n_q * k, 0);
        g.distances.assign(n_q * k, 0.0f);
        if (n_q == 0) return g;

        const std::size_t n_tasks = (n_q + kQueryBlock - 1) / kQueryBlock;
        parallelize(n_threads_, n_tasks, [&](int, std::size_t t_begin, std::size_t t_end) {
            using Cand = std::pair<float, index_t>;
            std::vector<std::vector<Cand>> heaps(kQueryBlock);
            for (auto& h : heaps) h.reserve(n_cand);
            std::vector<float> thresh(kQueryBlock);
            DotBlock dots;
            std::vector<index_t> cand_idx;
            std::vector<std::pair<double, index_t>> scratch;
            for (std::size_t t = t_begin; t < t_end; ++t) {
                if (interrupt_requested()) throw Interrupted("exact kNN search interrupted");
                const std::size_t q0 = t * kQueryBlock, q1 = std::min(n_q, q0 + kQueryBlock);
                for (std::size_t r = 0; r < q1 - q0; ++r) {
                    heaps[r].clear();
                    thresh[r] = std::numeric_limits<float>::infinity();
                }
                for (std::size_t r0 = 0; r0 < n_ref; r0 += kRefBlock) {
                    const std::size_t r1 = std::min(n_ref, r0 + kRefBlock);
                    Eigen::Map<const RowMatF> R(rwork.row(r0), static_cast<Eigen::Index>(r1 - r0),
                                                static_cast<Eigen::Index>(dim));
                    for (std::size_t s0 = q0; s0 < q1; s0 += static_cast<std::size_t>(kSubRows)) {
                        const std::size_t s1 = std::min(q1, s0 + static_cast<std::size_t>(kSubRows));
                        Eigen::Map<const RowMatF> Q(qwork.row(s0), static_cast<Eigen::Index>(s1 - s0),
                                                    static_cast<Eigen::Index>(dim));
                        dots.noalias() = Q * R.transpose();
                        for (std::size_t i = s0; i < s1; ++i) {
                            const float* drow = dots.data() + (i - s0) * (r1 - r0);
                            auto& heap = heaps[i - q0];
                            float& th = thresh[i - q0];
                            for (std::size_t j = r0; j < r1; ++j) {
                                if (self && j == i) continue;  // the point itself, by index (duplicates stay)
                                // Monotone in the true distance for a fixed query: |y|^2 - 2 x.y (Euclidean; |x|^2 is
                                // constant per row) or -x.y (cosine on normalised rows, inner product).
                                const float dot = drow[j - r0];
                                const float key = metric_ == Metric::euclidean ? sqnorms_[j] - 2.0f * dot : -dot;
                                if (!(key < th)) continue;  // ties keep the smaller index (scanned first)
                                const index_t jj = static_cast<index_t>(j);
                                if (heap.size() < n_cand) {
                                    heap.emplace_back(key, jj);
                                    std::push_heap(heap.begin(), heap.end());
                                    if (heap.size() == n_cand) th = heap.front().first;
                                } else {
                                    std::pop_heap(heap.begin(), heap.end());
                                    heap.back() = Cand(key, jj);
                                    std::push_heap(heap.begin(), heap.end());
                                    th = heap.front().first;
                                }
                            }
                        }
                    }
                }
                for (std::size_t i = q0; i < q1; ++i) {
                    cand_idx.clear();
                    for (const auto& c : heaps[i - q0]) cand_idx.push_back(c.second);
                    detail::finish_row(exact_, queries.row(i), cand_idx, k, g.indices.data() + i * k,
                                       g.distances.data() + i * k, scratch);
                }
            }
        });
        if (metric_ == Metric::inner_product) detail::warn_negative_distances(g);
        return g;
    }

    Matrix<float> data_;
    Matrix<float> work_;           // cosine: row-normalised copy
    std::vector<float> sqnorms_;   // euclidean: |y_j|^2
    detail::ExactDistance exact_;
    Metric metric_;
    int n_threads_;
};

} // namespace

std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads) {
    require(n_threads >= 1, "exact kNN: n_threads must be >= 1 (got " + std::to_string(n_threads) + ")");
    detail::check_knn_data(data, "exact kNN");
    return std::make_unique<ExactIndex>(data, metric, n_threads);
}

} // namespace nembed
