#pragma once
/// @file scatter.hpp
/// A dependency-light scatter plot of a 2-D embedding written as PNG (stb_image_write), with defaults that read
/// well for 70 000 points: small alpha-blended markers, categorical colours (matplotlib's tab10/tab20), a legend.
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

struct ScatterOptions {
    int width = 1000;            ///< image width in pixels (the plot area is square; the legend sits to the right)
    int height = 1000;           ///< image height in pixels
    double point_radius = 0.0;   ///< marker radius in pixels; 0 = automatic (smaller for more points)
    double alpha = 0.0;          ///< marker opacity in (0, 1]; 0 = automatic
    bool legend = true;          ///< draw a legend when labels are given
    std::string title;           ///< optional title drawn at the top
    std::vector<std::string> label_names;  ///< legend text per label code (default: the code)
};

/// Renders `embedding` (N x 2; N x 1 is drawn against a jittered zero axis) coloured by `labels` (may be empty)
/// into an RGB image (row-major, 3 bytes per pixel). Throws InvalidArgument on bad shapes or non-finite values.
std::vector<std::uint8_t> render_scatter(MatrixView<double> embedding, const std::vector<std::int64_t>& labels,
                                         const ScatterOptions& options, int* width_out, int* height_out);

/// Renders and writes a PNG; throws IoError naming the path if it cannot be written.
void write_scatter_png(const std::string& path, MatrixView<double> embedding,
                       const std::vector<std::int64_t>& labels, const ScatterOptions& options = {});

} // namespace nembed
