#pragma once
/// @file uncertainty.hpp
/// PNG pictures of embedding uncertainty and sensitivity (stb_image_write, no other dependency):
/// uncertainty ellipses from per-point 2 × 2 covariances, arrows (or double-headed axes) over the map, and a
/// diverging heatmap of a matrix (e.g. S, 2N × N·D), block-averaged down to the image size.
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

struct UncertaintyPlotOptions {
    int size = 1000;              ///< image width and height in pixels
    std::string title;            ///< drawn at the top (empty: none)
    /// Ellipses: the region drawn is {δ : δᵀ C⁻¹ δ ≤ q} with q = 5.991 (95 % for a 2-D Gaussian), times `scale`.
    /// Arrows: vectors are multiplied by `scale`; 0 = automatic (the 95th-percentile arrow is 6 % of the map).
    double scale = 0.0;
    bool double_headed = false;   ///< arrows: draw ±v (for sign-free axes)
};

/// Y: N × 2; covariances: N × 4 (c_xx, c_xy, c_yx, c_yy) per point; labels may be empty.
/// Ellipse scale 0 = automatic (the median major semi-axis is 3 % of the map); the factor is printed on the image. Throws InvalidArgument on bad shapes, IoError on write errors.
void write_ellipses_png(const std::string& path, MatrixView<double> Y, MatrixView<double> covariances,
                        const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& options = {});

/// Y: N × 2; arrows: N × 2 displacement per point.
void write_arrows_png(const std::string& path, MatrixView<double> Y, MatrixView<double> arrows,
                      const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& options = {});

/// Any matrix; blue (negative) – white (0) – red (positive), symmetric range ±max|block mean|.
void write_heatmap_png(const std::string& path, MatrixView<double> matrix, const UncertaintyPlotOptions& options = {});

} // namespace nembed
