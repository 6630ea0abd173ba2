// The network's bf16 products through oneDNN at the shapes of cne's network (chunk rows × widths), one call at a
// time on one thread as Mlp makes them: B (the weights, or dW's H) given as stored (row-major, repacked by oneDNN at
// every call) or pre-packed once in the layout oneDNN prefers (format any + one reorder), to know the attainable
// per-call rate. Thread CPU µs per call, median of 7 repeats of N calls.
//   bench_bf16_matmul [--rows 512] [--calls 2000] [--ours-only]
// Then nembed's own gemm:: calls, through oneDNN and through each own backend that runs here (parametric/gemm_own.hpp:
// AVX512-BF16, AMX), each in turn per product.
#include <cstdio>
#ifdef NEMBED_BENCH_HAVE_DNNL
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <omp.h>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "nembed/parametric/gemm.hpp"
#include "nembed/parametric/gemm_own.hpp"

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

double thread_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Shape {
    const char* what;
    long m, n, k;
    bool ta, bias, relu, c16;
};

// Thread CPU µs per call of C = op(A)·B (+ bias) (ReLU) with B plain (packed = false) or pre-packed.
double time_call(const Shape& s, bool packed, int calls) {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(eng);
    const dnnl::memory::desc a({s.m, s.k}, dt::bf16, s.ta ? dnnl::memory::dims{1, s.m} : dnnl::memory::dims{s.k, 1});
    const dnnl::memory::desc b_plain({s.k, s.n}, dt::bf16, tag::ab);
    const dnnl::memory::desc b_any({s.k, s.n}, dt::bf16, tag::any);
    const dnnl::memory::desc c({s.m, s.n}, s.c16 ? dt::bf16 : dt::f32, tag::ab);
    const dnnl::memory::desc bias = s.bias ? dnnl::memory::desc({1, s.n}, dt::f32, tag::ab) : dnnl::memory::desc();
    dnnl::primitive_attr attr;
    if (s.relu) {
        dnnl::post_ops po;
#if DNNL_VERSION_MAJOR >= 3
        po.append_eltwise(dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
#else
        po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
#endif
        attr.set_post_ops(po);
    }
#if DNNL_VERSION_MAJOR >= 3
    dnnl::matmul::primitive_desc pd(eng, a, packed ? b_any : b_plain, bias, c, attr);
#else
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, packed ? b_any : b_plain, bias, c), attr, eng);
#endif
    dnnl::matmul prim(pd);
    std::vector<std::uint16_t> A(static_cast<std::size_t>(s.m * s.k), 0x3F80),
        B(static_cast<std::size_t>(s.k * s.n), 0x3F00);
    std::vector<float> C(static_cast<std::size_t>(s.m * s.n)), bias_v(static_cast<std::size_t>(s.n), 0.5f);
    dnnl::memory am(a, eng, A.data()), bm_plain(b_plain, eng, B.data()), cm(c, eng, C.data());
    dnnl::memory bm = bm_plain;
    if (packed) {
        bm = dnnl::memory(pd.weights_desc(), eng);
        dnnl::reorder(bm_plain, bm).execute(stream, bm_plain, bm);
    }
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
    if (s.bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(bias, eng, bias_v.data()));
    std::vector<double> runs;
    for (int rep = 0; rep < 7; ++rep) {
        const double t0 = thread_seconds();
        for (int i = 0; i < calls; ++i) prim.execute(stream, args);
        stream.wait();
        runs.push_back((thread_seconds() - t0) / calls * 1e6);
    }
    std::sort(runs.begin(), runs.end());
    return runs[3];
}

} // namespace

int main(int argc, char** argv) {
    long rows = 512;
    int calls = 2000;
    bool ours_only = false;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        if (s == "--rows" && i + 1 < argc) rows = std::atol(argv[++i]);
        else if (s == "--calls" && i + 1 < argc) calls = std::atoi(argv[++i]);
        else if (s == "--ours-only") ours_only = true;
    }
    omp_set_num_threads(1);
    // cne's network 50 → 100 → 100 → 100 → 2 on a chunk of `rows` rows: the forward, dW = Gᵀ·H, dX = G·W.
    const Shape shapes[] = {
        {"fwd 50->100 relu bf16", rows, 100, 50, false, true, true, true},
        {"fwd 100->100 relu bf16", rows, 100, 100, false, true, true, true},
        {"fwd 100->2 bias f32", rows, 2, 100, false, true, false, false},
        {"dW 100x100 (G^T H)", 100, 100, rows, true, false, false, false},
        {"dW 100x50", 100, 50, rows, true, false, false, false},
        {"dW 2x100", 2, 100, rows, true, false, false, false},
        {"dW^T 100x2 (H^T G)", 100, 2, rows, true, false, false, false},
        {"dX k100 (G W)", rows, 100, 100, false, false, false, false},
        {"dX k2", rows, 100, 2, false, false, false, false},
    };
    std::printf("rows %ld, %d calls, thread CPU us per call (median of 7)\n", rows, calls);
    std::printf("%-26s %10s %10s %8s %10s\n", "product", "B plain", "B packed", "ratio", "GFLOPS pk");
    for (const Shape& s : shapes) {
        if (ours_only) break;
        const double plain = time_call(s, false, calls), packed = time_call(s, true, calls);
        std::printf("%-26s %10.2f %10.2f %8.3f %10.1f\n", s.what, plain, packed, packed / plain,
                    2.0 * static_cast<double>(s.m * s.n * s.k) / packed * 1e-3);
    }
    // nembed's products (parametric/gemm.hpp) as Mlp calls them (the weights pre-packed by gemm::pack_b), through
    // oneDNN and through the own kernels (parametric/gemm_own.hpp) where they run.
    const auto u = [](long v) { return static_cast<std::size_t>(v); };
    const std::size_t m = u(rows);
    std::vector<std::uint16_t> G(m * 100), H(m * 100), W(100 * 100);
    for (std::size_t i = 0; i < G.size(); ++i) G[i] = nembed::round_bf16(static_cast<float>(i % 13) * 0.25f - 1.5f);
    for (std::size_t i = 0; i < H.size(); ++i) H[i] = nembed::round_bf16(static_cast<float>(i % 11) * 0.125f);
    for (std::size_t i = 0; i < W.size(); ++i) W[i] = nembed::round_bf16(static_cast<float>(i % 7) * 0.1f - 0.3f);
    std::vector<float> out(m * 100), bias(100, 0.25f);
    std::vector<std::uint16_t> out16(m * 100);
    const auto per_call = [&](auto&& f) {
        std::vector<double> runs;
        for (int rep = 0; rep < 7; ++rep) {
            const double t0 = thread_seconds();
            for (int i = 0; i < calls; ++i) f();
            runs.push_back((thread_seconds() - t0) / calls * 1e6);
        }
        std::sort(runs.begin(), runs.end());
        return runs[3];
    };
    struct Ours {
        const char* what;
        int which;  // 0 forward bf16 out + bias + ReLU, 1 forward f32 out + bias, 2 dW = G^T H, 3 dIn = G W
        std::size_t o, a;
    };
    const Ours ours[] = {{"fwd 50->100 relu bf16", 0, 100, 50},  {"fwd 100->100 relu bf16", 0, 100, 100},
                         {"fwd 100->2 bias f32", 1, 2, 100},     {"dW 100x100 (G^T H)", 2, 100, 100},
                         {"dW 100x50", 2, 100, 50},              {"dW 2x100", 2, 2, 100},
                         {"dX k100 (G W)", 3, 100, 100},         {"dX k2", 3, 2, 100}};
    using nembed::own::Backend;
    std::vector<Backend> backends{Backend::onednn};
    for (Backend b : {Backend::avx512_bf16, Backend::amx})
        if (nembed::own::available(b)) backends.push_back(b);
    std::printf("\nnembed gemm:: (as Mlp calls it), thread CPU us per call, then each own backend's time / oneDNN's\n%-26s",
                "product");
    for (Backend b : backends) std::printf(" %12s", nembed::own::to_string(b).c_str());
    for (std::size_t i = 1; i < backends.size(); ++i) std::printf(" %12s", nembed::own::to_string(backends[i]).c_str());
    std::printf("\n");
    for (const Ours& s : ours) {
        std::vector<double> t(backends.size());
        for (std::size_t bi = 0; bi < backends.size(); ++bi) {
            nembed::own::set_backend(backends[bi]);
            nembed::gemm::PackedB packed;
            if (s.which <= 1) nembed::gemm::pack_b(m, s.o, s.a, W.data(), packed);  // Wt (a x o)
            if (s.which == 3) nembed::gemm::pack_b(m, s.a, s.o, W.data(), packed);  // W (o x a)
            t[bi] = per_call([&] {
                switch (s.which) {
                    case 0:
                        nembed::gemm::h_wt(m, s.o, s.a, H.data(), W.data(), out16.data(), bias.data(), true, &packed);
                        break;
                    case 1: nembed::gemm::h_wt(m, s.o, s.a, H.data(), W.data(), out.data(), bias.data(), false, &packed); break;
                    case 2: nembed::gemm::gt_h(m, s.o, s.a, G.data(), H.data(), out.data()); break;
                    default: nembed::gemm::g_w(m, s.o, s.a, G.data(), W.data(), out.data(), &packed); break;
                }
            });
        }
        nembed::own::set_backend(nembed::own::best());
        std::printf("%-26s", s.what);
        for (double x : t) std::printf(" %12.2f", x);
        for (std::size_t i = 1; i < t.size(); ++i) std::printf(" %12.3f", t[i] / t[0]);
        std::printf("\n");
    }
    return 0;
}
#else
int main() {
    std::puts("bench_bf16_matmul: built without oneDNN");
    return 0;
}
#endif
