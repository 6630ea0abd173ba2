// cli/outputs: the all-or-nothing commit (issue #19 item 5). A rename that fails part-way through a commit puts back
// every output already replaced (files and directories) and removes the temporaries.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "nembed/core/error.hpp"
#include "outputs.hpp"

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

void put(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

bool has_temporaries(const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().rfind(".nembed-", 0) == 0) return true;
    return false;
}

struct CliOutputSet : ::testing::Test {
    fs::path root, d1, d2;
    void SetUp() override {
        root = fs::path(NEMBED_BINARY_DIR) / "tests" /
               ("cli_outputs_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(root);
        d1 = root / "d1";
        d2 = root / "d2";
        fs::create_directories(d1);
        fs::create_directories(d2);
    }
};

TEST_F(CliOutputSet, CommitReplacesEveryOutput) {
    put(d1 / "a.json", "old a");
    fs::create_directories(d1 / "model");
    put(d1 / "model" / "stale", "old model");
    nembed::cli::OutputSet out;
    out.add("-o", (d1 / "a.json").string(), nembed::cli::OutputKind::json);
    out.add("--save-model", (d1 / "model").string(), nembed::cli::OutputKind::directory);
    out.add("--metrics", (d2 / "b.json").string(), nembed::cli::OutputKind::json);
    nembed::cli::write_text(out.staged((d1 / "a.json").string()), "new a");
    nembed::cli::write_text(out.staged((d1 / "model").string()) + "/m.json", "new model");
    nembed::cli::write_text(out.staged((d2 / "b.json").string()), "new b");
    EXPECT_EQ(slurp(d1 / "a.json"), "old a");  // nothing is replaced before the commit
    out.commit();
    EXPECT_EQ(slurp(d1 / "a.json"), "new a");
    EXPECT_EQ(slurp(d1 / "model" / "m.json"), "new model");
    EXPECT_FALSE(fs::exists(d1 / "model" / "stale"));
    EXPECT_EQ(slurp(d2 / "b.json"), "new b");
    EXPECT_FALSE(has_temporaries(d1));
    EXPECT_FALSE(has_temporaries(d2));
}

TEST_F(CliOutputSet, AFailedRenameRestoresTheOutputsAlreadyReplaced) {
    put(d1 / "a.json", "old a");
    fs::create_directories(d1 / "model");
    put(d1 / "model" / "m.json", "old model");
    nembed::cli::OutputSet out;
    out.add("-o", (d1 / "a.json").string(), nembed::cli::OutputKind::json);
    out.add("--new", (d1 / "new.json").string(), nembed::cli::OutputKind::json);
    out.add("--save-model", (d1 / "model").string(), nembed::cli::OutputKind::directory);
    out.add("--metrics", (d2 / "b.json").string(), nembed::cli::OutputKind::json);
    nembed::cli::write_text(out.staged((d1 / "a.json").string()), "new a");
    nembed::cli::write_text(out.staged((d1 / "new.json").string()), "new file");
    nembed::cli::write_text(out.staged((d1 / "model").string()) + "/m.json", "new model");
    nembed::cli::write_text(out.staged((d2 / "b.json").string()), "new b");
    fs::remove_all(d2);  // the last rename fails: its temporary and directory are gone
    EXPECT_THROW(out.commit(), nembed::IoError);
    EXPECT_EQ(slurp(d1 / "a.json"), "old a");
    EXPECT_EQ(slurp(d1 / "model" / "m.json"), "old model");
    EXPECT_FALSE(fs::exists(d1 / "new.json"));  // an output that did not exist before does not exist after
    EXPECT_FALSE(has_temporaries(d1));
}

TEST_F(CliOutputSet, AnUncommittedSetLeavesNothing) {
    put(d1 / "a.json", "old a");
    {
        nembed::cli::OutputSet out;
        out.add("-o", (d1 / "a.json").string(), nembed::cli::OutputKind::json);
        out.add("--save-model", (d1 / "model").string(), nembed::cli::OutputKind::directory);
        nembed::cli::write_text(out.staged((d1 / "a.json").string()), "new a");
        nembed::cli::write_text(out.staged((d1 / "model").string()) + "/m.json", "new model");
    }  // the work failed before the commit
    EXPECT_EQ(slurp(d1 / "a.json"), "old a");
    EXPECT_FALSE(fs::exists(d1 / "model"));
    EXPECT_FALSE(has_temporaries(d1));
}

TEST_F(CliOutputSet, PathsAreCheckedWhenAdded) {
    nembed::cli::OutputSet out;
    using nembed::cli::OutputKind;
    EXPECT_THROW(out.add("--plot", (root / "missing" / "p.png").string(), OutputKind::plot), nembed::InvalidArgument);
    EXPECT_THROW(out.add("--metrics", d1.string(), OutputKind::json), nembed::InvalidArgument);
    EXPECT_THROW(out.add("-o", (d1 / "x.json").string(), OutputKind::matrix), nembed::InvalidArgument);
    put(d1 / "file", "x");
    EXPECT_THROW(out.add("--save-model", (d1 / "file").string(), OutputKind::directory), nembed::InvalidArgument);
    out.add("-o", (d1 / "y.npy").string(), OutputKind::matrix);
    EXPECT_THROW(out.add("--transform-output", (d1 / "y.npy").string(), OutputKind::matrix), nembed::InvalidArgument);
}

} // namespace

// An .h5ad output is an element of a file: checked up front, staged as a copy of the file, committed by a rename.
TEST_F(CliOutputSet, H5adOutputIsAStagedCopyOfTheFile) {
    using nembed::cli::OutputKind;
    {
        nembed::cli::OutputSet out;
        EXPECT_THROW(out.add("-o", (d1 / "x.h5ad").string(), OutputKind::matrix), nembed::InvalidArgument);  // no key
        EXPECT_THROW(out.add("-o", (d1 / "x.h5ad:X").string(), OutputKind::matrix), nembed::InvalidArgument);
        put(d1 / "text.h5ad", "not hdf5");
        EXPECT_THROW(out.add("-o", (d1 / "text.h5ad:obsm/X_tsne").string(), OutputKind::matrix),
                     nembed::InvalidArgument);
    }
    const std::string hdf5_head = std::string("\x89HDF\r\n\x1a\n", 8) + "rest of the file";
    put(d1 / "a.h5ad", hdf5_head);
    nembed::cli::OutputSet out;
    const std::string spec = (d1 / "a.h5ad").string() + ":obsm/X_tsne";
    out.add("-o", spec, OutputKind::matrix);
    const std::string staged = out.staged(spec);
    ASSERT_GT(staged.size(), 12u);
    EXPECT_EQ(staged.substr(staged.size() - 12), ":obsm/X_tsne");
    const std::string tmp = staged.substr(0, staged.size() - 12);
    EXPECT_EQ(slurp(tmp), hdf5_head);  // the element is added to a copy
    put(tmp, hdf5_head + " changed");
    EXPECT_EQ(slurp(d1 / "a.h5ad"), hdf5_head);
    out.commit();
    EXPECT_EQ(slurp(d1 / "a.h5ad"), hdf5_head + " changed");
    EXPECT_FALSE(has_temporaries(d1));
}
