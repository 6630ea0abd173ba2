#pragma once
/// @file cumulative_search.hpp
/// std::upper_bound on a fixed non-decreasing array of doubles (cumulative weights: sampling ∝ weight) through a guide
/// table: the same index for every query, in O(1) expected steps instead of a binary search's log2(n) dependent,
/// mostly cache-missing loads. paraDime's negative-edge batches draw 500 edges ∝ their relation from ~225 000 (the
/// tutorial's ParametricUMAP: 300 000 draws, serial, ~6 % of its wall as a binary search).
///
/// Bucket t of m = n buckets holds the first index p whose bucket(cum[p]) ≥ t, bucket(x) = ⌊x · m / cum.back()⌋
/// clamped to [0, m − 1]. bucket is monotone in x (a product by a positive constant and the floor are), so for a
/// query u every index before guide[bucket(u)] has cum < u: scanning forward from there while cum[p] ≤ u stops at
/// upper_bound's index.
#include <cstddef>
#include <vector>

namespace nembed {

class CumulativeSearch {
public:
    CumulativeSearch() = default;
    /// cum: non-decreasing (not checked).
    explicit CumulativeSearch(std::vector<double> cum) : cum_(std::move(cum)) {
        m_ = cum_.empty() ? 1 : cum_.size();
        scale_ = !cum_.empty() && cum_.back() > 0 ? static_cast<double>(m_) / cum_.back() : 0.0;
        guide_.assign(m_, cum_.size());
        std::size_t t = 0;
        for (std::size_t p = 0; p < cum_.size(); ++p)
            for (const std::size_t bp = bucket(cum_[p]); t <= bp && t < m_; ++t) guide_[t] = p;
    }
    const std::vector<double>& values() const { return cum_; }
    bool empty() const { return cum_.empty(); }
    /// std::upper_bound(values().begin(), values().end(), u) − values().begin().
    std::size_t upper_bound(double u) const {
        std::size_t p = guide_[bucket(u)];
        while (p < cum_.size() && cum_[p] <= u) ++p;
        return p;
    }

private:
    std::size_t bucket(double x) const {
        const double t = x * scale_;
        if (!(t > 0.0)) return 0;  // ≤ 0 (and NaN)
        return t >= static_cast<double>(m_ - 1) ? m_ - 1 : static_cast<std::size_t>(t);
    }
    std::vector<double> cum_;
    std::vector<std::size_t> guide_;
    std::size_t m_ = 1;
    double scale_ = 0.0;
};

} // namespace nembed
