// Uses installed headers and the installed library: a kNN graph and a CSR transpose.
#include <cstdio>

#include <nembed/core/random.hpp>
#include <nembed/core/sparse.hpp>
#include <nembed/neighbors/knn.hpp>

int main() {
    nembed::Matrix<float> x(50, 3);
    nembed::Rng rng(1);
    for (auto& v : x.storage()) v = static_cast<float>(rng.normal());
    nembed::KnnOptions opt;
    opt.method = nembed::KnnMethod::exact;
    auto g = nembed::find_neighbors(x.view(), 5, opt);
    auto m = nembed::csr_from_triplets<double>(2, 2, {{0, 1, 1.0}});
    auto t = nembed::transpose(m);
    if (g.n_points != 50 || g.k != 5 || t.at(1, 0) != 1.0) return 1;
    std::printf("downstream ok\n");
    return 0;
}
