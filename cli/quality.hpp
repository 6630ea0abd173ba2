#pragma once
// Quality figures printed by tsne/evaluate and written as JSON.
#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed::cli {

struct QualityInputs {
    MatrixView<float> X;                         ///< high-dimensional data
    MatrixView<double> Y;                        ///< embedding
    const std::vector<std::int64_t>* labels;     ///< may be null
    const CsrMatrix<double>* P;                  ///< may be null (no KL)
};

/// Computes the metrics, prints them (one line each, unless --quiet) and writes JSON to `json_path` if not empty.
void report_quality(const CommonOptions& o, const QualityInputs& q, const std::string& json_path);

} // namespace nembed::cli
