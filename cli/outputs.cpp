#include "outputs.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>

#include "interrupt.hpp"
#include "nembed/core/error.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/h5ad.hpp"
#include "nembed/io/load.hpp"

namespace nembed::cli {
namespace fs = std::filesystem;

namespace {
// Live sets, so that the interrupt watchdog can remove their temporaries before it ends the process. Leaked on
// purpose: the watchdog may still take the lock while static destructors run.
std::mutex& registry_mutex() {
    static auto* m = new std::mutex;
    return *m;
}
std::set<OutputSet*>& registry() {
    static auto* s = new std::set<OutputSet*>;
    return *s;
}

std::string extensions_for(OutputKind kind) {
    switch (kind) {
    case OutputKind::matrix: return ".npy, .csv, .tsv, .txt or .h5ad:obsm/<name>";
    case OutputKind::npy: return ".npy";
    case OutputKind::plot: return ".png, .svg or .pdf";
    case OutputKind::json: return ".json";
    case OutputKind::directory: return "";
    }
    return "";
}

bool extension_ok(const std::string& path, OutputKind kind) {
    const std::string ext = file_extension(path);
    switch (kind) {
    case OutputKind::matrix:
        return ext == ".npy" || ext == ".csv" || ext == ".tsv" || ext == ".tab" || ext == ".txt" || ext == ".h5ad";
    case OutputKind::npy: return ext == ".npy";
    case OutputKind::plot: return ext == ".png" || ext == ".svg" || ext == ".pdf";
    case OutputKind::json: return ext == ".json";
    case OutputKind::directory: return true;
    }
    return false;
}

fs::path parent_of(const std::string& path) {
    fs::path p = fs::path(path).parent_path();
    return p.empty() ? fs::path(".") : p;
}

// "model/" and "model" are the same directory output.
std::string without_trailing_slashes(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

// "data.h5ad:obsm/X_tsne" names a file and the element written into it; other outputs are plain paths.
FileSpec output_spec(const std::string& spec, OutputKind kind) {
    if (kind != OutputKind::matrix) return {spec, ""};
    FileSpec s = parse_spec(spec);
    if (file_extension(s.path) != ".h5ad") return {spec, ""};
    return s;
}

void remove_quietly(const std::string& path) noexcept {
    std::error_code ec;
    fs::remove_all(path, ec);
}
} // namespace

OutputSet::~OutputSet() {
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry().erase(this);
    if (!committed_) discard();
}

void OutputSet::discard() noexcept {
    for (auto& e : entries_) {
        if (!e.tmp.empty()) remove_quietly(e.tmp);
        e.tmp.clear();
    }
}

void OutputSet::add(const std::string& option, const std::string& spec, OutputKind kind) {
    if (spec.empty()) return;
    auto bad = [&](const std::string& why) { throw InvalidArgument(option + " " + spec + ": " + why); };
    // An .h5ad output is an element of a file: the file is staged as a copy (when it exists), the element written
    // into the copy, and the copy renamed over the file, so the file changes all at once or not at all.
    const FileSpec s = output_spec(spec, kind);
    const std::string& path = s.path;
    const bool h5ad = file_extension(path) == ".h5ad" && kind == OutputKind::matrix;
    if (h5ad) {
        try {
            check_h5ad_output_key(s.member);
        } catch (const InvalidArgument& e) {
            bad(e.what());
        }
    }
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (kind == OutputKind::directory) {
        if (fs::exists(st) && !fs::is_directory(st)) bad("exists and is not a directory");
    } else if (fs::is_directory(st) || path.back() == '/') {
        bad("is a directory");
    } else if (fs::exists(st) && !fs::is_regular_file(st)) {
        bad("exists and is not a regular file");
    } else if (h5ad && fs::exists(st)) {
        const auto head = read_file_prefix(path, 8);
        if (!is_hdf5_signature(head.data(), head.size()))
            bad("exists and is not an HDF5 (.h5ad) file, so the embedding cannot be added to it");
    }
    if (!extension_ok(path, kind))
        bad("this output is written as " + extensions_for(kind) + "; the extension '" + file_extension(path) +
            "' does not match");
    const fs::path dir = parent_of(without_trailing_slashes(path));
    const fs::file_status ds = fs::status(dir, ec);
    if (!fs::exists(ds)) bad("the directory " + dir.string() + " does not exist");
    if (!fs::is_directory(ds)) bad(dir.string() + " is not a directory");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) bad("the directory " + dir.string() + " is not writable");
    const fs::path canon = fs::weakly_canonical(path, ec);
    for (const auto& e : entries_) {
        if (fs::weakly_canonical(e.path, ec) == canon)
            bad("is also the path of " + e.option + "; give each output its own file");
    }
    std::lock_guard<std::mutex> lock(registry_mutex());
    registry().insert(this);
    entries_.push_back({option, without_trailing_slashes(path), "", kind, s.member});
}

std::string OutputSet::staged(const std::string& spec) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    const FileSpec s = output_spec(spec, OutputKind::matrix);
    const std::string& path = s.path;
    const std::string key = without_trailing_slashes(path);
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.path == key; });
    require(it != entries_.end(), "internal: output " + path + " was not checked before the run");
    if (it->tmp.empty()) {
        // Hidden, beside the target (so the rename stays on one file system), with the target's extension (the
        // writers choose the format by it).
        const std::string name = fs::path(key).filename().string();
        it->tmp = (parent_of(key) / (".nembed-" + std::to_string(::getpid()) + "-" +
                                      std::to_string(it - entries_.begin()) + "-" + name))
                      .string();
        remove_quietly(it->tmp);
        if (it->kind == OutputKind::directory) {
            std::error_code ec;
            fs::create_directory(it->tmp, ec);
            if (ec) throw IoError(path + ": cannot create a temporary directory beside it (" + ec.message() + ")");
        }
        std::error_code ec;
        if (!it->member.empty() && fs::exists(key, ec)) {
            fs::copy_file(key, it->tmp, fs::copy_options::overwrite_existing, ec);
            if (ec) throw IoError(path + ": cannot copy it beside itself to add " + it->member + " (" + ec.message() + ")");
        }
    }
    return it->member.empty() ? it->tmp : it->tmp + ":" + it->member;
}

void OutputSet::commit() { commit_impl(false); }
void OutputSet::commit_even_if_interrupted() { commit_impl(true); }

void OutputSet::commit_impl(bool even_if_interrupted) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    if (!even_if_interrupted && received_signal() != 0) throw Interrupted("interrupted");
    for (const auto& e : entries_) {
        if (e.tmp.empty()) throw IoError(e.path + ": internal: " + e.option + " was never written");
    }
    // Existing targets are kept under a backup name until every rename has succeeded.
    std::vector<std::string> backups(entries_.size());
    std::size_t done = 0;
    std::string failure;
    for (; done < entries_.size(); ++done) {
        const Entry& e = entries_[done];
        std::error_code ec;
        if (fs::exists(e.path, ec)) {
            backups[done] = e.tmp + ".old";
            remove_quietly(backups[done]);
            // A file keeps its old content under a hard link and is replaced by one atomic rename; a directory
            // cannot be renamed over, so it is moved aside first.
            const bool ok = e.kind == OutputKind::directory
                                ? std::rename(e.path.c_str(), backups[done].c_str()) == 0
                                : ::link(e.path.c_str(), backups[done].c_str()) == 0;
            if (!ok) backups[done].clear();
            if (!ok && e.kind == OutputKind::directory) {
                failure = e.path + ": cannot move the old directory aside";
                break;
            }
        }
        if (std::rename(e.tmp.c_str(), e.path.c_str()) != 0) {
            failure = e.path + ": cannot rename the temporary file into place";
            if (e.kind == OutputKind::directory && !backups[done].empty())
                std::rename(backups[done].c_str(), e.path.c_str());
            break;
        }
    }
    if (!failure.empty()) {
        for (std::size_t i = 0; i < done; ++i) {  // undo the ones already in place
            const Entry& e = entries_[i];
            if (backups[i].empty()) {
                remove_quietly(e.path);
            } else {
                if (e.kind == OutputKind::directory) remove_quietly(e.path);
                std::rename(backups[i].c_str(), e.path.c_str());
            }
        }
        if (done < entries_.size() && !backups[done].empty() && entries_[done].kind != OutputKind::directory)
            remove_quietly(backups[done]);  // the target was not replaced: its link is not needed
        discard();
        throw IoError(failure + "; no output was changed");
    }
    for (auto& b : backups)
        if (!b.empty()) remove_quietly(b);
    for (auto& e : entries_) e.tmp.clear();
    committed_ = true;
}

void write_text(const std::string& path, const std::string& text) { write_file_atomic(path, text.data(), text.size()); }

void discard_all_outputs() noexcept {
    registry_mutex().lock();  // held until the process ends: no commit may start after this
    for (OutputSet* s : registry()) s->discard_for_exit();
}

void OutputSet::discard_for_exit() noexcept { discard(); }

PartialResult::PartialResult(bool enabled) : enabled_(enabled) {
    // The optimisations poll every iteration or epoch: the watchdog's grace is then for writing the partial result.
    if (enabled_) set_interrupt_grace(10.0);
}

void PartialResult::keep(MatrixView<double> Y, std::string where) {
    if (!enabled_) return;
    if (Y_.rows() != Y.rows || Y_.cols() != Y.cols) Y_ = Matrix<double>(Y.rows, Y.cols);
    std::copy(Y.data, Y.data + Y.size(), Y_.data());
    where_ = std::move(where);
}

void PartialResult::write_or_rethrow(const std::string& path) const {
    if (!enabled_ || received_signal() == 0 || Y_.empty()) throw;
    OutputSet out;
    out.add("-o", path, OutputKind::matrix);
    save_matrix(out.staged(path), Y_.view());
    out.commit_even_if_interrupted();
    throw InterruptedWithPartial("the partial embedding (" + where_ + ") was written to " + path);
}

} // namespace nembed::cli
