#pragma once
/// @file format.hpp
/// The file formats the plots are written in (cairo's PNG, SVG and PDF surfaces), chosen by the path's extension.
#include <string>

namespace nembed {

enum class PlotFormat {
    png,  ///< anti-aliased raster, 8-bit RGB(A)
    svg,  ///< vector; text as glyph outlines of the chosen font
    pdf,  ///< vector; the font's glyph subset embedded
};

/// The format of `path` by its extension (".png", ".svg", ".pdf", any case); throws InvalidArgument naming the
/// path and the accepted extensions otherwise.
PlotFormat plot_format_for(const std::string& path);

/// "png", "svg" or "pdf".
std::string to_string(PlotFormat format);

} // namespace nembed
