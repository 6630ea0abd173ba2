#include "nembed/plot/format.hpp"

#include "nembed/core/error.hpp"
#include "nembed/io/file.hpp"

namespace nembed {

PlotFormat plot_format_for(const std::string& path) {
    const std::string ext = file_extension(path);
    if (ext == ".png") return PlotFormat::png;
    if (ext == ".svg") return PlotFormat::svg;
    if (ext == ".pdf") return PlotFormat::pdf;
    throw InvalidArgument("plot path '" + path + "': the extension must be .png, .svg or .pdf" +
                          (ext.empty() ? std::string(" (it has none)") : ", not '" + ext + "'"));
}

std::string to_string(PlotFormat format) {
    switch (format) {
    case PlotFormat::png: return "png";
    case PlotFormat::svg: return "svg";
    case PlotFormat::pdf: return "pdf";
    }
    return "?";
}

} // namespace nembed
