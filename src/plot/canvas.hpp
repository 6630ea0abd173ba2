#pragma once
// Private to src/plot: one cairo drawing surface for every plot (scatter.cpp, uncertainty.cpp). PNG draws on an
// ARGB32 image surface; SVG and PDF on vector surfaces streamed into memory. finish() writes the file atomically.
#include <cairo.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nembed/plot/format.hpp"
#include "nembed/plot/palette.hpp"

namespace nembed::plot_detail {

enum class Align { left, centre, right };

class Canvas {
public:
    /// A white width × height canvas for `format`; text in the fontconfig family `font`.
    Canvas(PlotFormat format, int width, int height, std::string font);
    ~Canvas();
    Canvas(const Canvas&) = delete;
    Canvas& operator=(const Canvas&) = delete;

    cairo_t* cr() const { return cr_; }
    int width() const { return width_; }
    int height() const { return height_; }

    void set_colour(Rgb c, double alpha = 1.0) const;
    /// Text with its baseline at y; returns its advance width.
    double text(double x, double y, const std::string& s, double size, Rgb c, Align align = Align::left) const;
    double text_width(const std::string& s, double size) const;

    /// Completes the drawing and writes the file (atomically); throws IoError naming `path`.
    void write(const std::string& path);
    /// The image as RGB bytes (row-major); PNG canvases only.
    std::vector<std::uint8_t> rgb() const;

private:
    PlotFormat format_;
    int width_, height_;
    std::string font_;
    std::vector<unsigned char> bytes_;  // what vector surfaces have streamed so far
    cairo_surface_t* surface_ = nullptr;
    cairo_t* cr_ = nullptr;
};

/// Colours of class labels, as the scatter plot draws them: distinct codes in increasing order take the
/// categorical palette's colours in turn.
class ClassColours {
public:
    explicit ClassColours(const std::vector<std::int64_t>& labels);
    std::size_t size() const { return codes_.size(); }
    const std::vector<std::int64_t>& codes() const { return codes_; }  ///< distinct codes, increasing
    const std::vector<Rgb>& colours() const { return colours_; }        ///< colours()[k] is codes()[k]'s
    Rgb of(std::int64_t code) const;

private:
    std::vector<std::int64_t> codes_;
    std::vector<Rgb> colours_;
};

} // namespace nembed::plot_detail
