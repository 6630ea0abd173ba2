// The exact O(N^2) gradient is refused above TsneOptions::exact_max_points unless forced (issue #19, item 6); the
// limit is lowered here so that the refusal is tested on 60 points.
#include <gtest/gtest.h>

#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/methods/tsne.hpp"

using namespace nembed;

namespace {

Matrix<float> data(std::size_t n) {
    Matrix<float> X(n, 4);
    Rng rng(9);
    for (std::size_t q = 0; q < X.size(); ++q) X.data()[q] = static_cast<float>(rng.normal());
    return X;
}

TsneOptions small_exact() {
    TsneOptions o;
    o.repulsion.method = GradientMethod::exact;
    o.exact_max_points = 50;
    o.perplexities = {5.0};
    o.early_exaggeration_iter = 5;
    o.n_iter = 5;
    o.random_state = 1;
    return o;
}

TEST(TsneExactLimit, RefusedAboveTheLimitWithTheAlternativesNamed) {
    const TsneOptions o = small_exact();
    EXPECT_NO_THROW(validate(o, 50));
    try {
        (void)TSNE(o).fit(data(60).view());
        ADD_FAILURE() << "accepted";
    } catch (const InvalidArgument& e) {
        const std::string m = e.what();
        for (const char* part : {"O(N^2)", "60 points", "3.6e+03 pair interactions per iteration", "limit 50",
                                 "fft or bh", "--force-exact"})
            EXPECT_NE(m.find(part), std::string::npos) << m;
    }
    // the default limit is the documented one, and other methods are never limited
    EXPECT_EQ(TsneOptions{}.exact_max_points, exact_gradient_max_points);
    TsneOptions bh = o;
    bh.repulsion.method = GradientMethod::barnes_hut;
    EXPECT_NO_THROW(validate(bh, 1000000));
}

TEST(TsneExactLimit, ForceRunsIt) {
    TsneOptions o = small_exact();
    o.force_exact = true;
    const TsneEmbedding e = TSNE(o).fit(data(60).view());
    EXPECT_EQ(e.embedding().rows(), 60u);
}

} // namespace
