// The network's matrix products (parametric/gemm.hpp): float32 through OpenBLAS or Eigen, bf16 through oneDNN.
#include "nembed/parametric/gemm.hpp"

#include <atomic>
#include <bit>
#include <cstdlib>

#ifdef NEMBED_HAVE_OPENBLAS_GEMM
#include <cblas.h>
#else
#include <Eigen/Core>
#endif
#ifdef NEMBED_HAVE_DNNL
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include "../core/blas_serial.hpp"
#endif

#include "nembed/core/error.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/parametric/gemm_own.hpp"
#include "../core/isa_clones.hpp"

namespace nembed {

Precision parse_precision(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "float32" || s == "fp32" || s == "float" || s == "f32") return Precision::float32;
    if (s == "bf16" || s == "bfloat16") return Precision::bf16;
    throw InvalidArgument("network precision: unknown precision '" + name + "' (expected float32 or bf16)");
}

std::string to_string(Precision p) { return p == Precision::bf16 ? "bf16" : "float32"; }

#ifdef NEMBED_HAVE_DNNL
namespace gemm {
namespace {
bool onednn_bf16_matmul_on_this_cpu();  // below, beside the products
}
} // namespace gemm
#endif

bool bf16_gemm_available() { return bf16_unavailable_reason().empty(); }

const std::string& bf16_unavailable_reason() {
#ifdef NEMBED_HAVE_DNNL
    // Probed once: oneDNN has bf16 products only on CPUs with AVX-512 (or AMX, AVX2-VNNI-2); on an AVX2-only CPU
    // it refuses them, and so does every bf16 path here.
    static const std::string reason =
        own::available(own::Backend::amx) || own::available(own::Backend::avx512_bf16) ||
                gemm::onednn_bf16_matmul_on_this_cpu()
            ? std::string()
            : std::string("this CPU has no bfloat16 products (oneDNN's need AVX-512, AMX or AVX2-VNNI-2)");
#else
    static const std::string reason("nembed was built without oneDNN (install libdnnl-dev and rebuild)");
#endif
    return reason;
}

void require_bf16_gemm(const std::string& what) {
    require(bf16_gemm_available(),
            what + ": precision bf16 is not available: " + bf16_unavailable_reason() + "; use float32");
}

NEMBED_ISA_CLONES void to_bf16(const float* __restrict x, std::uint16_t* __restrict y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) y[i] = round_bf16(x[i]);
}

float bf16_to_float(std::uint16_t v) { return std::bit_cast<float>(static_cast<std::uint32_t>(v) << 16); }

namespace gemm {

namespace {
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
int blas_int(std::size_t v) { return static_cast<int>(v); }
#else
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<RowMat>;
using CMap = Eigen::Map<const RowMat>;
Eigen::Index ix(std::size_t v) { return static_cast<Eigen::Index>(v); }
#endif
} // namespace

// OpenBLAS's kernels add the finished float sum to C once (a single K block at these widths), so 0 + Σ is what
// β = 0 gave, bit for bit.
void h_wt_add(std::size_t m, std::size_t o, std::size_t a, const float* H, const float* W, float* Z) {
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(m), blas_int(o), blas_int(a), 1.0f, H, blas_int(a),
                W, blas_int(a), 1.0f, Z, blas_int(o));
#else
    Map(Z, ix(m), ix(o)).noalias() += CMap(H, ix(m), ix(a)) * CMap(W, ix(o), ix(a)).transpose();
#endif
}

namespace {
// The two products below clear C in one memset and add with β = 1: OpenBLAS's β = 0 runs its own clearing pass
// (sgemm_beta, column by column: 3 % of ParametricUMAP's CPU on Zen 3) before the same kernel adds into C, so the
// bits are β = 0's.
void blas_gt_h(std::size_t m, std::size_t o, std::size_t a, const float* G, const float* H, float* dW) {
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
    std::memset(dW, 0, o * a * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(o), blas_int(a), blas_int(m), 1.0f, G, blas_int(o),
                H, blas_int(a), 1.0f, dW, blas_int(a));
#else
    Map(dW, ix(o), ix(a)).noalias() = CMap(G, ix(m), ix(o)).transpose() * CMap(H, ix(m), ix(a));
#endif
}

void blas_g_w(std::size_t m, std::size_t o, std::size_t a, const float* G, const float* W, float* dIn) {
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
    std::memset(dIn, 0, m * a * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(m), blas_int(a), blas_int(o), 1.0f, G, blas_int(o),
                W, blas_int(a), 1.0f, dIn, blas_int(a));
#else
    Map(dIn, ix(m), ix(a)).noalias() = CMap(G, ix(m), ix(o)) * CMap(W, ix(o), ix(a));
#endif
}

std::atomic<int>& f32_chosen() {
    static std::atomic<int> chosen{-1};  // −1: not chosen yet (the environment, else blas, at the first ask)
    return chosen;
}
} // namespace

std::string to_string(F32Backend b) { return b == F32Backend::onednn ? "onednn" : "blas"; }

// oneDNN has a float32 matmul on every CPU (a reference one at worst), unlike its bf16 one (bf16_gemm_available()).
bool available([[maybe_unused]] F32Backend b) {
#ifdef NEMBED_HAVE_DNNL
    return true;
#else
    return b == F32Backend::blas;
#endif
}

F32Backend f32_backend() {
    int c = f32_chosen().load(std::memory_order_relaxed);
    if (c < 0) {
        // blas by default: onednn's last-bit differences moved a short ParametricUMAP run's map far enough to fail
        // python/tests/test_paradime.py's bound at seed 0 (recall 0.248 -> 0.190), and it is unmeasured on AVX-512.
        F32Backend b = F32Backend::blas;
        if (const char* env = std::getenv("NEMBED_F32_GEMM")) {
            const std::string v = to_lower(env);
            require(v == "blas" || v == "onednn",
                    "NEMBED_F32_GEMM: unknown backend '" + std::string(env) + "' (expected blas or onednn)");
            b = v == "blas" ? F32Backend::blas : F32Backend::onednn;
            require(available(b), "NEMBED_F32_GEMM=onednn: nembed was built without oneDNN");
        }
        int expected = -1;
        f32_chosen().compare_exchange_strong(expected, static_cast<int>(b), std::memory_order_relaxed);
        c = f32_chosen().load(std::memory_order_relaxed);
    }
    return static_cast<F32Backend>(c);
}

void set_f32_backend(F32Backend b) {
    require(available(b), "float32 products: backend " + to_string(b) + " is not available in this build");
    f32_chosen().store(static_cast<int>(b), std::memory_order_relaxed);
}

#ifdef NEMBED_HAVE_DNNL
namespace {

using dt = dnnl::memory::data_type;

dnnl::engine& engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

// Whether oneDNN makes a bf16 matmul here (a small one; its primitive descriptor fails on CPUs without the ISA).
bool onednn_bf16_matmul_on_this_cpu() {
    try {
        const dnnl::memory::desc a({16, 32}, dt::bf16, dnnl::memory::format_tag::ab);
        const dnnl::memory::desc b({32, 16}, dt::bf16, dnnl::memory::format_tag::ab);
        const dnnl::memory::desc c({16, 16}, dt::f32, dnnl::memory::format_tag::ab);
#if DNNL_VERSION_MAJOR >= 3
        dnnl::matmul::primitive_desc pd(engine(), a, b, c);
#else
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), engine());
#endif
        return true;
    } catch (const dnnl::error&) {
        return false;
    }
}

// C (m×n, float32) = A (m×k) · B (k×n), bf16 operands row-major, A also as its transpose's row-major storage (ta: a
// memory stride, no copy). B is never transposed: the forward is given Wᵀ itself (h_wt).
struct Product {
    dnnl::memory::desc a, b, c, bias;
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
};

// m, n, k, A transposed, a float32 bias row added, ReLU after, C in bf16, B in the kernel's own layout (format any:
// pre-packed by pack_b), float32 operands (else bf16).
using Key = std::tuple<std::size_t, std::size_t, std::size_t, bool, bool, bool, bool, bool, bool>;

// One OpenMP thread in oneDNN for the call (and the primitive's creation: its blocking depends on the thread
// count), the calling thread's own setting restored after; other threads' settings are their own.
using OmpSerial = detail::SerialScope<omp_get_max_threads, omp_set_num_threads>;

const Product& product(const Key& key) {
    static std::mutex mutex;
    static std::map<Key, std::unique_ptr<Product>> cache;
    std::lock_guard lock(mutex);
    auto& slot = cache[key];
    if (!slot) {
        const auto [m, n, k, ta, with_bias, relu, c16, b_any, f32] = key;
        const auto d = [](std::size_t v) { return static_cast<dnnl::memory::dim>(v); };
        const dt in = f32 ? dt::f32 : dt::bf16;
        auto p = std::make_unique<Product>();
        p->a = dnnl::memory::desc({d(m), d(k)}, in, ta ? dnnl::memory::dims{1, d(m)} : dnnl::memory::dims{d(k), 1});
        p->b = b_any ? dnnl::memory::desc({d(k), d(n)}, in, dnnl::memory::format_tag::any)
                     : dnnl::memory::desc({d(k), d(n)}, in, dnnl::memory::dims{d(n), 1});
        p->c = dnnl::memory::desc({d(m), d(n)}, c16 ? dt::bf16 : dt::f32, dnnl::memory::dims{d(n), 1});
        if (with_bias) p->bias = dnnl::memory::desc({1, d(n)}, dt::f32, dnnl::memory::dims{d(n), 1});
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per-thread scratch below: concurrent calls
        if (relu) {
            dnnl::post_ops po;
#if DNNL_VERSION_MAJOR >= 3
            po.append_eltwise(dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
#else
            po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
#endif
            attr.set_post_ops(po);
        }
        try {
#if DNNL_VERSION_MAJOR >= 3
            p->pd = dnnl::matmul::primitive_desc(engine(), p->a, p->b, p->bias, p->c, attr);
#else
            p->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(p->a, p->b, p->bias, p->c), attr, engine());
#endif
            p->prim = dnnl::matmul(p->pd);
            if (b_any) p->b = p->pd.weights_desc();
        } catch (const dnnl::error& e) {
            throw InvalidArgument(std::string("network precision ") + (f32 ? "float32" : "bf16") + ": oneDNN has no " +
                                  (f32 ? "float32" : "bf16") + " matmul for " + std::to_string(m) + "x" +
                                  std::to_string(k) + " by " + std::to_string(k) + "x" + std::to_string(n) +
                                  " on this CPU (" + e.what() + ")" + (f32 ? "" : "; use float32"));
        }
        slot = std::move(p);
    }
    return *slot;
}

// A primitive as one thread calls it: its memory objects made once (their pointers set at each call) and its
// argument map, per thread with the thread's own scratchpad, found without the shared cache's lock (a memory
// object and a map per call were ~3 % of a bf16 epoch in malloc and free).
struct Bound {
    const Product* p = nullptr;
    std::size_t scratch_bytes = 0;
    std::unordered_map<int, dnnl::memory> args;
};
Bound& bound(const Key& key) {
    thread_local std::map<Key, Bound> calls;
    Bound& b = calls[key];
    if (!b.p) {
        b.p = &product(key);
        b.scratch_bytes = b.p->pd.scratchpad_desc().get_size();
        dnnl::engine& e = engine();
        b.args.emplace(DNNL_ARG_SRC, dnnl::memory(b.p->a, e, nullptr));
        b.args.emplace(DNNL_ARG_WEIGHTS, dnnl::memory(b.p->b, e, nullptr));
        b.args.emplace(DNNL_ARG_DST, dnnl::memory(b.p->c, e, nullptr));
        b.args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(b.p->pd.scratchpad_desc(), e, nullptr));
        if (std::get<4>(key)) b.args.emplace(DNNL_ARG_BIAS, dnnl::memory(b.p->bias, e, nullptr));
    }
    return b;
}

// C = A·B (+ bias) (then ReLU); C float32, or bf16 when c16. B pre-packed when `packed` holds the layout this
// product's kernel wants (else B as stored).
// f32: float32 A, B and C (c16 false).
void matmul(std::size_t m, std::size_t n, std::size_t k, const void* A, bool ta, const void* B,
            void* C, const float* bias = nullptr, bool relu = false, bool c16 = false,
            const PackedB* packed = nullptr, bool f32 = false) {
    [[maybe_unused]] OmpSerial serial;
    if (packed && packed->layout && packed->n == n && packed->k == k &&
        bound({m, n, k, ta, bias != nullptr, relu, c16, true, f32}).p->b ==
            *static_cast<const dnnl::memory::desc*>(packed->layout.get()))
        B = packed->bytes.data();
    else
        packed = nullptr;
    Bound& b = bound({m, n, k, ta, bias != nullptr, relu, c16, packed != nullptr, f32});
    thread_local dnnl::stream stream(engine());
    thread_local std::vector<std::uint8_t> scratch;
    if (scratch.size() < b.scratch_bytes) scratch.resize(b.scratch_bytes);
    b.args.at(DNNL_ARG_SRC).set_data_handle(const_cast<void*>(A));
    b.args.at(DNNL_ARG_WEIGHTS).set_data_handle(const_cast<void*>(B));
    b.args.at(DNNL_ARG_DST).set_data_handle(C);
    b.args.at(DNNL_ARG_SCRATCHPAD).set_data_handle(scratch.data());
    if (bias) b.args.at(DNNL_ARG_BIAS).set_data_handle(const_cast<float*>(bias));
    b.p->prim.execute(stream, b.args);
    stream.wait();
}

// A batch's last chunk has a row count of its own, a new shape at nearly every batch: a primitive for each would
// cost its creation (~1 ms) again and again and grow the cache without bound. Such chunks are padded with zero
// rows to a multiple of kRowStep (a handful of shapes), in per-thread staging buffers: zero rows add nothing to a
// product over rows and give rows that are dropped.
constexpr std::size_t kRowStep = 64;
std::size_t padded(std::size_t m) { return (m + kRowStep - 1) / kRowStep * kRowStep; }

// x (rows × cols) followed by zero rows up to `to` rows, in buf.
const std::uint16_t* pad_rows(const std::uint16_t* x, std::size_t rows, std::size_t to, std::size_t cols,
                              AlignedVector<std::uint16_t>& buf) {
    buf.assign(to * cols, 0);
    std::copy(x, x + rows * cols, buf.begin());
    return buf.data();
}

struct Staging {
    AlignedVector<std::uint16_t> a, b, c16;
    AlignedVector<float> c;
};
Staging& staging() {
    thread_local Staging s;
    return s;
}

// C (m×n) = A (m×k) · op(B) (+ bias) (then ReLU) with m padded: A's rows and C's rows.
template <typename T>
void matmul_rows(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A, const std::uint16_t* B, T* C,
                 const float* bias = nullptr, bool relu = false, const PackedB* packed = nullptr) {
    constexpr bool c16 = std::is_same_v<T, std::uint16_t>;
    const std::size_t mp = padded(m);
    if (mp == m) return matmul(m, n, k, A, false, B, C, bias, relu, c16, packed);
    Staging& s = staging();
    AlignedVector<T>& c = [&]() -> AlignedVector<T>& {
        if constexpr (c16) return s.c16; else return s.c;
    }();
    c.resize(mp * n);
    matmul(mp, n, k, pad_rows(A, m, mp, k, s.a), false, B, c.data(), bias, relu, c16, packed);
    std::copy(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(m * n), C);
}

// The own kernels' B operand: `packed` when it holds B's VNNI packing, else B packed into a per-thread buffer.
const std::uint16_t* vnni_b(std::size_t n, std::size_t k, const std::uint16_t* B, const PackedB* packed) {
    if (packed && packed->vnni && packed->n == n && packed->k == k)
        return reinterpret_cast<const std::uint16_t*>(packed->bytes.data());
    thread_local AlignedVector<std::uint16_t> buf;
    buf.resize(own::vnni_size(k, n));
    own::pack_vnni(k, n, B, n, buf.data());
    return buf.data();
}

} // namespace

void pack_b(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* B, PackedB& out) {
    out.n = n;
    out.k = k;
    out.vnni = own::enabled();
    if (out.vnni) {
        out.bytes.resize(own::vnni_size(k, n) * sizeof(std::uint16_t));
        own::pack_vnni(k, n, B, n, reinterpret_cast<std::uint16_t*>(out.bytes.data()));
        out.layout.reset();
        return;
    }
    [[maybe_unused]] OmpSerial serial;
    // The layout of the plain product on m rows; a product with a bias, ReLU or a bf16 C whose kernel wants another
    // layout falls back to the plain operand (matmul compares the descriptors).
    const Product& p = product({padded(m), n, k, false, false, false, false, true, false});
    const std::size_t bytes = p.b.get_size();
    out.bytes.resize(bytes);
    dnnl::engine& e = engine();
    const dnnl::memory::desc plain({static_cast<dnnl::memory::dim>(k), static_cast<dnnl::memory::dim>(n)}, dt::bf16,
                                   dnnl::memory::format_tag::ab);
    dnnl::memory src(plain, e, const_cast<std::uint16_t*>(B)), dst(p.b, e, out.bytes.data());
    thread_local dnnl::stream stream(e);
    dnnl::reorder(src, dst).execute(stream, src, dst);
    stream.wait();
    if (!out.layout || *static_cast<const dnnl::memory::desc*>(out.layout.get()) != p.b)
        out.layout = std::make_shared<const dnnl::memory::desc>(p.b);
}

void h_wt(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* H, const std::uint16_t* Wt, float* Z,
          const float* b, bool relu, const PackedB* packed) {
    if (own::enabled())
        return own::matmul(m, o, a, H, a, vnni_b(o, a, Wt, packed), {.c32 = Z, .ldc = o, .bias = b, .relu = relu});
    matmul_rows(m, o, a, H, Wt, Z, b, relu, packed);
}
void h_wt(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* H, const std::uint16_t* Wt,
          std::uint16_t* Z16, const float* b, bool relu, const PackedB* packed) {
    if (own::enabled())
        return own::matmul(m, o, a, H, a, vnni_b(o, a, Wt, packed), {.c16 = Z16, .ldc = o, .bias = b, .relu = relu});
    matmul_rows(m, o, a, H, Wt, Z16, b, relu, packed);
}
void gt_h(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* G, const std::uint16_t* H, float* dW) {
    if (own::enabled()) {
        // The inner dimension is the chunk's rows: Gᵀ's columns and H's VNNI pairs, zero padded to a multiple of 32.
        const std::size_t mp = own::padded_k(m);
        Staging& s = staging();
        s.b.resize(own::vnni_size(m, a));
        own::pack_vnni(m, a, H, a, s.b.data());
        if (own::packed_a_available()) {  // G packed as H is: half a transpose's cost
            s.a.resize(own::vnni_size(m, o));
            own::pack_vnni(m, o, G, o, s.a.data());
            return own::matmul_packed_a(o, a, m, s.a.data(), s.b.data(), {.c32 = dW, .ldc = a});
        }
        s.a.resize(o * mp);
        own::transpose(m, o, G, o, s.a.data());
        return own::matmul(o, a, mp, s.a.data(), mp, s.b.data(), {.c32 = dW, .ldc = a});
    }
    const std::size_t mp = padded(m);  // the inner dimension: both operands' rows
    if (mp == m) return matmul(o, a, m, G, true, H, dW);
    Staging& s = staging();
    matmul(o, a, mp, pad_rows(G, m, mp, o, s.a), true, pad_rows(H, m, mp, a, s.b), dW);
}
void g_w(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* G, const std::uint16_t* W, float* dIn,
         const PackedB* packed) {
    if (own::enabled()) return own::matmul(m, a, o, G, o, vnni_b(a, o, W, packed), {.c32 = dIn, .ldc = a});
    matmul_rows(m, a, o, G, W, dIn, nullptr, false, packed);
}
bool g_w_relu_mask(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* G, const std::uint16_t* W,
                   const std::uint16_t* H16, std::uint16_t* G16out, float* db, const PackedB* packed) {
    if (!own::enabled()) return false;
    own::matmul(m, a, o, G, o, vnni_b(a, o, W, packed), {.c16 = G16out, .ldc = a, .mask16 = H16, .db = db});
    return true;
}
// float32 products on their exact row counts (no padding: a network's chunks have at most chunk_rows rows, so the
// shapes, and the cached primitives, are bounded; oneDNN's float32 gemm primitives are cheap to create).
void gt_h(std::size_t m, std::size_t o, std::size_t a, const float* G, const float* H, float* dW, F32Backend backend) {
    if (backend == F32Backend::blas) return blas_gt_h(m, o, a, G, H, dW);
    matmul(o, a, m, G, true, H, dW, nullptr, false, false, nullptr, true);
}
void g_w(std::size_t m, std::size_t o, std::size_t a, const float* G, const float* W, float* dIn, F32Backend backend) {
    if (backend == F32Backend::blas) return blas_g_w(m, o, a, G, W, dIn);
    matmul(m, a, o, G, false, W, dIn, nullptr, false, false, nullptr, true);
}
#else
void gt_h(std::size_t m, std::size_t o, std::size_t a, const float* G, const float* H, float* dW, F32Backend) {
    blas_gt_h(m, o, a, G, H, dW);
}
void g_w(std::size_t m, std::size_t o, std::size_t a, const float* G, const float* W, float* dIn, F32Backend) {
    blas_g_w(m, o, a, G, W, dIn);
}
void pack_b(std::size_t, std::size_t, std::size_t, const std::uint16_t*, PackedB&) { require_bf16_gemm("network"); }
void h_wt(std::size_t, std::size_t, std::size_t, const std::uint16_t*, const std::uint16_t*, float*, const float*,
          bool, const PackedB*) {
    require_bf16_gemm("network");
}
void h_wt(std::size_t, std::size_t, std::size_t, const std::uint16_t*, const std::uint16_t*, std::uint16_t*,
          const float*, bool, const PackedB*) {
    require_bf16_gemm("network");
}
void gt_h(std::size_t, std::size_t, std::size_t, const std::uint16_t*, const std::uint16_t*, float*) {
    require_bf16_gemm("network");
}
void g_w(std::size_t, std::size_t, std::size_t, const std::uint16_t*, const std::uint16_t*, float*, const PackedB*) {
    require_bf16_gemm("network");
}
bool g_w_relu_mask(std::size_t, std::size_t, std::size_t, const std::uint16_t*, const std::uint16_t*,
                   const std::uint16_t*, std::uint16_t*, float*, const PackedB*) {
    return false;
}
#endif

} // namespace gemm
} // namespace nembed
