// The cairo canvas shared by the plots (canvas.hpp).
#include "canvas.hpp"

#include <cairo-pdf.h>
#include <cairo-svg.h>

#include <algorithm>

#include "nembed/core/error.hpp"
#include "nembed/io/file.hpp"

namespace nembed::plot_detail {
namespace {
cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
    auto* out = static_cast<std::vector<unsigned char>*>(closure);
    out->insert(out->end(), data, data + length);
    return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const std::string& what) {
    if (status != CAIRO_STATUS_SUCCESS) throw IoError(what + ": cairo: " + cairo_status_to_string(status));
}
} // namespace

Canvas::Canvas(PlotFormat format, int width, int height, std::string font)
    : format_(format), width_(width), height_(height), font_(std::move(font)) {
    switch (format) {
    case PlotFormat::png: surface_ = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height); break;
    case PlotFormat::svg:
        surface_ = cairo_svg_surface_create_for_stream(append, &bytes_, width, height);
        cairo_svg_surface_set_document_unit(surface_, CAIRO_SVG_UNIT_PX);
        break;
    case PlotFormat::pdf:
        surface_ = cairo_pdf_surface_create_for_stream(append, &bytes_, width, height);
        cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_CREATOR, "nembed");
        break;
    }
    cr_ = cairo_create(surface_);
    const cairo_status_t status = cairo_status(cr_);
    if (status != CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cr_);
        cairo_surface_destroy(surface_);
        throw IoError("plot: cannot create a " + std::to_string(width) + " x " + std::to_string(height) +
                      " " + to_string(format) + " canvas: cairo: " + cairo_status_to_string(status));
    }
    cairo_select_font_face(cr_, font_.c_str(), CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr_, 1.0, 1.0, 1.0);
    cairo_paint(cr_);
}

Canvas::~Canvas() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
}

void Canvas::set_colour(Rgb c, double alpha) const { cairo_set_source_rgba(cr_, c.r, c.g, c.b, alpha); }

double Canvas::text_width(const std::string& s, double size) const {
    cairo_set_font_size(cr_, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr_, s.c_str(), &e);
    return e.x_advance;
}

double Canvas::text(double x, double y, const std::string& s, double size, Rgb c, Align align) const {
    const double w = text_width(s, size);
    const double x0 = align == Align::left ? x : align == Align::centre ? x - w / 2 : x - w;
    set_colour(c);
    cairo_move_to(cr_, x0, y);
    cairo_show_text(cr_, s.c_str());
    cairo_new_path(cr_);
    return w;
}

void Canvas::write(const std::string& path) {
    check(cairo_status(cr_), path);
    if (format_ == PlotFormat::png) {
        cairo_surface_flush(surface_);
        bytes_.clear();
        check(cairo_surface_write_to_png_stream(surface_, append, &bytes_), path);
    } else {
        cairo_surface_finish(surface_);  // flushes the document into bytes_
        check(cairo_surface_status(surface_), path);
    }
    write_file_atomic(path, bytes_.data(), bytes_.size());
}

std::vector<std::uint8_t> Canvas::rgb() const {
    require(format_ == PlotFormat::png, "plot: only raster canvases have pixels");
    cairo_surface_flush(surface_);
    const unsigned char* data = cairo_image_surface_get_data(surface_);
    const int stride = cairo_image_surface_get_stride(surface_);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_) * 3);
    for (int y = 0; y < height_; ++y)
        for (int x = 0; x < width_; ++x) {
            // ARGB32 is a native-endian uint32 (premultiplied; the white background makes every pixel opaque).
            std::uint32_t p;
            std::copy_n(data + static_cast<std::size_t>(y) * static_cast<std::size_t>(stride) + 4 * x, 4,
                        reinterpret_cast<unsigned char*>(&p));
            std::uint8_t* o = &out[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) + x) * 3];
            o[0] = static_cast<std::uint8_t>(p >> 16);
            o[1] = static_cast<std::uint8_t>(p >> 8);
            o[2] = static_cast<std::uint8_t>(p);
        }
    return out;
}

ClassColours::ClassColours(const std::vector<std::int64_t>& labels) : codes_(labels) {
    std::sort(codes_.begin(), codes_.end());
    codes_.erase(std::unique(codes_.begin(), codes_.end()), codes_.end());
    if (!codes_.empty()) colours_ = categorical_palette(codes_.size());
}

Rgb ClassColours::of(std::int64_t code) const {
    const auto it = std::lower_bound(codes_.begin(), codes_.end(), code);
    return colours_[static_cast<std::size_t>(it - codes_.begin())];
}

} // namespace nembed::plot_detail
