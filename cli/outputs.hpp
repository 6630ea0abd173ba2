#pragma once
// All-or-nothing outputs: every path a command will write is checked before the work starts, each output is written
// to a temporary file (or directory) beside its target, and all of them are renamed into place together at the end.
// If anything fails (or the run is interrupted) the temporaries are removed and every old file is left untouched.
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed::cli {

enum class OutputKind {
    matrix,     ///< save_matrix: .npy, .csv, .tsv, .txt, or "data.h5ad:obsm/<name>" (added to a copy of the file)
    npy,        ///< a NumPy array only
    plot,       ///< a plot: .png, .svg or .pdf (plot/format.hpp)
    json,
    directory,  ///< a directory of files (--save-model)
};

class OutputSet {
public:
    OutputSet() = default;
    OutputSet(const OutputSet&) = delete;
    OutputSet& operator=(const OutputSet&) = delete;
    /// Removes the temporaries of an uncommitted set.
    ~OutputSet();

    /// Checks `path` now (throws InvalidArgument naming `option`): the parent directory exists and is writable, the
    /// target is not a directory (or, for `directory`, not a file), the extension matches `kind`, and no other
    /// output of the set has the same path. Empty paths are ignored (an option not given).
    /// A matrix output "data.h5ad:obsm/<name>" is the file data.h5ad (which, if it exists, must be HDF5).
    void add(const std::string& option, const std::string& path, OutputKind kind);
    /// The temporary path to write `path` to (a hidden name beside it, keeping the extension); `path` must have been
    /// added. For a directory, the temporary directory is created. For "data.h5ad:key" it is "<tmp>.h5ad:key", the
    /// temporary being a copy of data.h5ad when that exists (the element is added to the copy).
    std::string staged(const std::string& path);
    /// Renames every staged output into place. A failure part-way restores the outputs already replaced.
    /// Throws Interrupted instead if an interrupt was requested (nothing is replaced then).
    void commit();
    /// As commit, also after an interrupt (to write --save-partial's embedding).
    void commit_even_if_interrupted();
    /// Removes the temporaries (the caller holds the registry lock; see discard_all_outputs).
    void discard_for_exit() noexcept;

private:
    struct Entry {
        std::string option, path, tmp;
        OutputKind kind;
        std::string member;  ///< the element of an .h5ad output ("obsm/X_tsne"), else empty
    };
    std::vector<Entry> entries_;
    bool committed_ = false;
    void discard() noexcept;
    void commit_impl(bool even_if_interrupted);
};

/// Writes text to `path` (via a temporary file and a rename); throws IoError naming the path on failure.
void write_text(const std::string& path, const std::string& text);

/// Removes the temporaries of every live OutputSet (for the interrupt watchdog); blocks a commit in progress and
/// any later one.
void discard_all_outputs() noexcept;

/// --save-partial: the embedding an optimisation reached, written to -o if a signal stops the run (as openTSNE
/// returns the embedding reached on KeyboardInterrupt).
class PartialResult {
public:
    /// Create it when the optimisation starts: while enabled, the interrupt watchdog waits up to 10 s (not 1 s).
    explicit PartialResult(bool enabled);
    bool enabled() const { return enabled_; }
    /// Copies Y (the embedding reached); `where` says how far the run got ("iteration 120 of main").
    void keep(MatrixView<double> Y, std::string where);
    /// After an interrupt: writes the kept embedding to `path` and throws InterruptedWithPartial, or rethrows the
    /// current exception when disabled, not interrupted, or no checkpoint was reached. Call from a catch block.
    [[noreturn]] void write_or_rethrow(const std::string& path) const;

private:
    bool enabled_;
    Matrix<double> Y_;
    std::string where_;
};

} // namespace nembed::cli
