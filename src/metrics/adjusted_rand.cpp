// scikit-learn's adjusted Rand index from the contingency table (see adjusted_rand.hpp).
#include "nembed/metrics/adjusted_rand.hpp"

#include <map>
#include <string>
#include <utility>

#include "nembed/core/error.hpp"

namespace nembed {

double adjusted_rand_score(const std::vector<std::int64_t>& labels_true, const std::vector<std::int64_t>& labels_pred) {
    require(labels_true.size() == labels_pred.size(),
            "adjusted_rand_score: labels_true has " + std::to_string(labels_true.size()) + " entries but labels_pred " +
                std::to_string(labels_pred.size()));
    require(!labels_true.empty(), "adjusted_rand_score: the labelings are empty");
    const std::size_t n = labels_true.size();
    std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> cells;
    std::map<std::int64_t, std::int64_t> rows, cols;
    for (std::size_t i = 0; i < n; ++i) {
        cells[{labels_true[i], labels_pred[i]}]++;
        rows[labels_true[i]]++;
        cols[labels_pred[i]]++;
    }
    std::int64_t sum_squares = 0, row_dot = 0, col_dot = 0;
    for (const auto& [key, c] : cells) {
        sum_squares += c * c;
        row_dot += c * rows[key.first];
        col_dot += c * cols[key.second];
    }
    const auto nn = static_cast<std::int64_t>(n);
    const std::int64_t tp = sum_squares - nn;
    const std::int64_t fn = row_dot - sum_squares;  // same true class, different clusters
    const std::int64_t fp = col_dot - sum_squares;  // same cluster, different true classes
    const std::int64_t tn = nn * nn - fp - fn - sum_squares;
    if (fn == 0 && fp == 0) return 1.0;
    using L = long double;
    const L num = 2.0L * (static_cast<L>(tp) * static_cast<L>(tn) - static_cast<L>(fn) * static_cast<L>(fp));
    const L den = static_cast<L>(tp + fn) * static_cast<L>(fn + tn) + static_cast<L>(tp + fp) * static_cast<L>(fp + tn);
    return static_cast<double>(num / den);
}

} // namespace nembed
