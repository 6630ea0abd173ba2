// User initialisations (issue #19, item 4): a degenerate start (all rows equal, or a constant column) is refused
// with a message naming the column, by user_init and by t-SNE, UMAP and CNE; non-finite values are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/init/user.hpp"
#include "nembed/methods/cne.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/methods/umap.hpp"

using namespace nembed;

namespace {

Matrix<float> data(std::size_t n, std::size_t d) {
    Matrix<float> X(n, d);
    Rng rng(5);
    for (std::size_t q = 0; q < X.size(); ++q) X.data()[q] = static_cast<float>(rng.normal());
    return X;
}

Matrix<double> varied(std::size_t n) {
    Matrix<double> Y(n, 2);
    for (std::size_t i = 0; i < n; ++i) {
        Y(i, 0) = 1e-4 * std::cos(0.7 * static_cast<double>(i));
        Y(i, 1) = 1e-4 * std::sin(1.3 * static_cast<double>(i));
    }
    return Y;
}

// Runs f, expecting InvalidArgument whose message contains every one of `parts`.
template <class F>
void expect_refused(F&& f, std::initializer_list<const char*> parts) {
    try {
        f();
        ADD_FAILURE() << "accepted";
    } catch (const InvalidArgument& e) {
        for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
}

TEST(UserInit, DegenerateStartsAreRefusedWithTheColumnNamed) {
    const Matrix<double> zeros(50, 2);
    expect_refused([&] { user_init(zeros.view(), 50, 2); }, {"degenerate", "column 0 of 2", "(0)", "50 points"});
    Matrix<double> line = varied(50);
    for (std::size_t i = 0; i < 50; ++i) line(i, 1) = 5.0;  // a constant second coordinate: a 1-D map forever
    expect_refused([&] { user_init(line.view(), 50, 2); }, {"column 1 of 2", "(5)"});
    Matrix<double> almost = line;
    almost(7, 1) = 5.0 * (1 + 1e-14);  // below the resolution of the values: still constant
    expect_refused([&] { user_init(almost.view(), 50, 2); }, {"column 1 of 2"});
    almost(7, 1) = 5.0 * (1 + 1e-9);  // a real, if tiny, spread is accepted
    EXPECT_NO_THROW(user_init(almost.view(), 50, 2));
    EXPECT_NO_THROW(user_init(varied(50).view(), 50, 2));
    EXPECT_NO_THROW(user_init(Matrix<double>(1, 2).view(), 1, 2));  // one point: nothing to spread
}

TEST(UserInit, NonFiniteValuesAreRefused) {
    for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
        Matrix<double> Y = varied(20);
        Y(3, 1) = bad;
        EXPECT_THROW(user_init(Y.view(), 20, 2), InvalidArgument);
    }
}

TEST(UserInit, TsneUmapAndCneRefuseAnAllZeroInitialisation) {
    const Matrix<float> X = data(120, 5);
    const Matrix<double> zeros(120, 2);
    TsneOptions t;
    t.initialization = TsneInit::user;
    t.initial_embedding = zeros;
    t.n_iter = 10;
    t.early_exaggeration_iter = 10;
    expect_refused([&] { (void)TSNE(t).fit(X.view()); }, {"degenerate", "column 0 of 2"});
    UmapOptions u;
    u.init = UmapInit::user;
    u.initial_embedding = zeros;
    u.n_epochs = 5;
    expect_refused([&] { (void)UMAP(u).fit(X.view()); }, {"degenerate", "column 0 of 2"});
    CneOptions c;
    c.init = CneInit::user;
    c.initial_embedding = zeros;
    c.n_epochs = 2;
    expect_refused([&] { (void)CNE(c).fit(X.view()); }, {"degenerate", "column 0 of 2"});
    // the same runs from a varied start work
    t.initial_embedding = u.initial_embedding = c.initial_embedding = varied(120);
    EXPECT_NO_THROW((void)TSNE(t).fit(X.view()));
    EXPECT_NO_THROW((void)UMAP(u).fit(X.view()));
    EXPECT_NO_THROW((void)CNE(c).fit(X.view()));
}

} // namespace
