#include "nembed/io/csv.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "nembed/io/file.hpp"

namespace nembed {

namespace {

struct Cell {
    std::string_view text;  // without surrounding quotes and blanks
    std::size_t column;     // 1-based byte column of the cell start
    bool quoted;
};

class CsvReader {
public:
    CsvReader(const std::string& path, const CsvOptions& o) : path_(path), opt_(o) {
        auto bytes = read_file_bytes(path);
        text_.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (text_.size() >= 3 && text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;  // UTF-8 byte order mark
        if (text_.empty()) throw_io_error(path, "empty file");
        if (text_.find('\0') != std::string::npos)
            throw_io_error_at(path, text_.find('\0'), "binary data in a text file (unknown format?)");
        delim_ = o.delimiter;
        if (delim_ == '\n' || delim_ == '"' || (delim_ != 0 && delim_ == o.comment))
            throw InvalidArgument("CsvOptions: invalid delimiter");
        if (delim_ == 0) {
            const std::string ext = file_extension(path);
            if (ext == ".csv") delim_ = ',';
            else if (ext == ".tsv" || ext == ".tab") delim_ = '\t';
            else if (ext == ".txt") delim_ = ' ';
        }
    }

    // Next non-blank, non-comment line split into cells; false at the end of the file.
    bool next(std::vector<Cell>& cells) {
        while (pos_ < text_.size()) {
            std::size_t end = text_.find('\n', pos_);
            if (end == std::string::npos) end = text_.size();
            std::string_view line(text_.data() + pos_, end - pos_);
            line_start_ = pos_;
            pos_ = end + 1;
            ++line_no_;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (delim_ == 0) infer_delimiter(line);
            split(line, cells);
            if (!cells.empty()) return true;
        }
        return false;
    }

    std::size_t line() const { return line_no_; }
    [[noreturn]] void fail(std::size_t column, const std::string& problem) const {
        throw_io_error_line(path_, line_no_, column, problem);
    }

private:
    void infer_delimiter(std::string_view line) {
        std::size_t c = opt_.comment ? line.find(opt_.comment) : std::string_view::npos;
        std::string_view body = line.substr(0, c);
        if (body.find_first_not_of(" \t") == std::string_view::npos) return;  // blank or comment: decide later
        if (body.find(',') != std::string_view::npos) delim_ = ',';
        else if (body.find('\t') != std::string_view::npos) delim_ = '\t';
        else if (body.find(';') != std::string_view::npos) delim_ = ';';
        else delim_ = ' ';
    }

    static bool blank(char c) { return c == ' ' || c == '\t'; }

    void split(std::string_view line, std::vector<Cell>& cells) {
        cells.clear();
        const bool ws = delim_ == ' ' || delim_ == 0;
        std::size_t i = 0;
        const std::size_t n = line.size();
        // Whole-line comment or blank line.
        std::size_t first = 0;
        while (first < n && blank(line[first])) ++first;
        if (first == n || (opt_.comment && line[first] == opt_.comment)) return;
        for (;;) {
            if (ws) {
                while (i < n && blank(line[i])) ++i;
                if (i == n || (opt_.comment && line[i] == opt_.comment)) return;
            } else {
                while (i < n && blank(line[i]) && line[i] != delim_) ++i;
            }
            Cell cell{{}, i + 1, false};
            if (i < n && line[i] == '"') {
                const std::size_t open = i++;
                while (i < n) {
                    if (line[i] == '"') {
                        if (i + 1 < n && line[i + 1] == '"') { i += 2; continue; }
                        break;
                    }
                    ++i;
                }
                if (i >= n) throw_io_error_line(path_, line_no_, open + 1, "unterminated quoted field");
                cell.text = line.substr(open + 1, i - open - 1);
                cell.quoted = true;
                ++i;
                while (i < n && blank(line[i]) && line[i] != delim_) ++i;
            } else {
                const std::size_t start = i;
                while (i < n && line[i] != delim_ && !(ws && blank(line[i])) &&
                       !(opt_.comment && line[i] == opt_.comment))
                    ++i;
                std::size_t stop = i;
                while (stop > start && blank(line[stop - 1])) --stop;
                cell.text = line.substr(start, stop - start);
            }
            cells.push_back(cell);
            if (i >= n || (opt_.comment && line[i] == opt_.comment)) return;
            if (ws) continue;
            if (line[i] != delim_)
                throw_io_error_line(path_, line_no_, i + 1, "unexpected text after a quoted field");
            ++i;  // past the delimiter; a trailing delimiter yields one more (empty) cell
        }
    }

    std::string path_;
    CsvOptions opt_;
    std::string text_;
    std::size_t pos_ = 0, line_start_ = 0, line_no_ = 0;
    char delim_ = 0;
};

// Parses a whole cell as a number (leading '+' allowed); false if it is not one.
bool parse_number(std::string_view s, double& v) {
    if (s.empty()) return false;
    if (s.front() == '+') {
        s.remove_prefix(1);
        if (s.empty() || s.front() == '-' || s.front() == '+') return false;
    }
    const char* b = s.data();
    const char* e = s.data() + s.size();
    auto r = std::from_chars(b, e, v);
    return r.ec == std::errc() && r.ptr == e;
}

// A number whose magnitude a double cannot hold (1e400, 1e-400).
bool out_of_double_range(std::string_view s) {
    double v;
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    return std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc::result_out_of_range;
}

bool row_is_numeric(const std::vector<Cell>& cells) {
    double v;
    for (const auto& c : cells)
        if (!c.text.empty() && !parse_number(c.text, v)) return false;
    return true;
}

std::string show(std::string_view s) {
    std::string out(s.substr(0, 40));
    if (s.size() > 40) out += "...";
    return "'" + out + "'";
}

} // namespace

namespace {
template <typename T>
Matrix<T> read_csv_impl(const std::string& path, const CsvOptions& options) {
    require(options.header >= -1 && options.header <= 1, "CsvOptions::header must be -1 (auto), 0 or 1");
    CsvReader r(path, options);
    std::vector<Cell> cells;
    if (!r.next(cells)) throw_io_error(path, "no data rows (the file is empty or only has comments)");
    bool header = options.header == 1 || (options.header == -1 && !row_is_numeric(cells));
    std::size_t cols = cells.size(), header_line = 0;
    if (header) {
        header_line = r.line();
        if (!r.next(cells)) throw_io_error(path, "no data rows after the header");
        if (cells.size() != cols)
            r.fail(cells.size() > cols ? cells[cols].column : 1,
                   "row has " + std::to_string(cells.size()) + " fields but the header on line " +
                       std::to_string(header_line) + " has " + std::to_string(cols));
    }
    cols = cells.size();
    const std::size_t first_line = r.line();
    std::vector<T> data;
    std::size_t rows = 0;
    do {
        if (cells.size() != cols) {
            const std::size_t col = cells.size() > cols ? cells[cols].column : cells.back().column + cells.back().text.size();
            r.fail(col, "ragged row: " + std::to_string(cells.size()) + " fields, expected " + std::to_string(cols) +
                            " (as on line " + std::to_string(first_line) + ")");
        }
        for (const auto& c : cells) {
            double v;
            if (c.text.empty()) r.fail(c.column, "empty cell");
            if (!parse_number(c.text, v))
                r.fail(c.column, (out_of_double_range(c.text) ? "number out of the range of a double "
                                                              : "non-numeric cell ") +
                                     show(c.text));
            if (!std::isfinite(v)) r.fail(c.column, "non-finite value " + show(c.text) + " (NaN and infinity are not allowed)");
            const T t = static_cast<T>(v);
            if (!std::isfinite(static_cast<double>(t)))
                r.fail(c.column, "value " + show(c.text) + " overflows float32");
            data.push_back(t);
        }
        ++rows;
    } while (r.next(cells));
    return Matrix<T>(rows, cols, std::move(data));
}
} // namespace

template <typename T>
Matrix<T> read_csv(const std::string& path, const CsvOptions& options) {
    return guard_allocation(path, [&] { return read_csv_impl<T>(path, options); });
}

template Matrix<float> read_csv<float>(const std::string&, const CsvOptions&);
template Matrix<double> read_csv<double>(const std::string&, const CsvOptions&);

namespace {
LabelColumn read_csv_labels_impl(const std::string& path, const CsvOptions& options) {
    require(options.header >= -1 && options.header <= 1, "CsvOptions::header must be -1 (auto), 0 or 1");
    CsvReader r(path, options);
    std::vector<Cell> cells;
    struct Raw {
        std::string text;
        std::size_t line, column;
        bool quoted;
    };
    std::vector<Raw> raw;
    while (r.next(cells)) {
        if (cells.size() != 1)
            r.fail(cells[1].column, "label files must have one column; this row has " + std::to_string(cells.size()) +
                                        " fields");
        if (cells[0].text.empty()) r.fail(cells[0].column, "empty label");
        std::string t(cells[0].text);
        if (cells[0].quoted) {  // undo "" escapes
            std::string u;
            for (std::size_t i = 0; i < t.size(); ++i) {
                u += t[i];
                if (t[i] == '"' && i + 1 < t.size() && t[i + 1] == '"') ++i;
            }
            t = u;
        }
        raw.push_back({std::move(t), r.line(), cells[0].column, cells[0].quoted});
    }
    if (raw.empty()) throw_io_error(path, "no labels (the file is empty or only has comments)");
    auto numeric = [](const Raw& x) {
        double v;
        return !x.quoted && parse_number(x.text, v);
    };
    std::size_t start = 0;
    if (options.header == 1) start = 1;
    else if (options.header == -1 && raw.size() >= 2 && !numeric(raw[0]) && numeric(raw[1])) start = 1;
    if (start >= raw.size()) throw_io_error(path, "no labels after the header");

    LabelColumn out;
    bool all_int = true;
    for (std::size_t i = start; i < raw.size() && all_int; ++i) {
        double v;
        all_int = !raw[i].quoted && parse_number(raw[i].text, v) && std::isfinite(v) && v == std::floor(v) &&
                  std::fabs(v) < 9.0e15;
    }
    out.codes.reserve(raw.size() - start);
    if (all_int) {
        for (std::size_t i = start; i < raw.size(); ++i) {
            double v;
            parse_number(raw[i].text, v);
            out.codes.push_back(static_cast<std::int64_t>(v));
        }
        return out;
    }
    std::unordered_map<std::string, std::int64_t> code;
    for (std::size_t i = start; i < raw.size(); ++i) {
        auto [it, inserted] = code.emplace(raw[i].text, static_cast<std::int64_t>(out.names.size()));
        if (inserted) out.names.push_back(raw[i].text);
        out.codes.push_back(it->second);
    }
    return out;
}
} // namespace

LabelColumn read_csv_labels(const std::string& path, const CsvOptions& options) {
    return guard_allocation(path, [&] { return read_csv_labels_impl(path, options); });
}

void write_csv(const std::string& path, MatrixView<double> m, char delimiter, const std::vector<std::string>& header) {
    require(header.empty() || header.size() == m.cols, "write_csv: header must have one name per column");
    std::string out;
    out.reserve(m.size() * 12 + 64);
    for (std::size_t j = 0; j < header.size(); ++j) {
        if (j) out += delimiter;
        out += header[j];
    }
    if (!header.empty()) out += '\n';
    char buf[64];
    for (std::size_t i = 0; i < m.rows; ++i) {
        for (std::size_t j = 0; j < m.cols; ++j) {
            if (j) out += delimiter;
            auto r = std::to_chars(buf, buf + sizeof buf, m(i, j));
            out.append(buf, r.ptr);
        }
        out += '\n';
    }
    write_file_atomic(path, out.data(), out.size());
}

} // namespace nembed
