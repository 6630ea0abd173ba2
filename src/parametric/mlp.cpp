// The multilayer perceptron (parametric/mlp.hpp): chunked forward and backward through parametric/gemm.hpp.
#include "nembed/parametric/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

#include <Eigen/Core>
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
#include <cblas.h>
#endif

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/parametric/softplus.hpp"
#include "../core/blas_serial.hpp"
#include "../core/isa_clones.hpp"

namespace nembed {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const RowMat>;
using Vec = Eigen::Map<Eigen::RowVectorXf>;

// Z (m×o) += b on every row; and the same followed by ReLU, in one pass. Cloned as relu(): element-wise, the
// bits of z + b then max(·, 0) in any clone.
NEMBED_ISA_CLONES void add_bias(float* __restrict Z, std::size_t m, std::size_t o, const float* __restrict b) {
    for (std::size_t r = 0; r < m; ++r)
        for (std::size_t j = 0; j < o; ++j) Z[r * o + j] += b[j];
}
NEMBED_ISA_CLONES void bias_relu(float* __restrict Z, std::size_t m, std::size_t o, const float* __restrict b) {
    for (std::size_t r = 0; r < m; ++r)
        for (std::size_t j = 0; j < o; ++j) {
            const float z = Z[r * o + j] + b[j];
            Z[r * o + j] = z > 0.0f || z != z ? z : 0.0f;  // NaN passes (torch's ReLU): see relu
        }
}
using detail::BlasSerial;  // OpenBLAS serial while the network runs (core/blas_serial.hpp)

using Block16 = Eigen::Array<float, 16, 1>;

// tanh through Eigen's packet tanh (a clamped rational approximation, within a few float ulps of std::tanh; libm's
// scalar tanhf made a tanh network 1.6–1.8× the CPU of a ReLU one), in blocks of 16 padded at the tail: a value's
// bits never depend on its position.
void tanh_packet(float* z, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 16) {
        const std::size_t w = std::min<std::size_t>(16, n - i);
        Block16 v = Block16::Zero();
        std::copy(z + i, z + i + w, v.data());
        const Block16 r = v.tanh();
        std::copy(r.data(), r.data() + w, z + i);
    }
}

// ReLU in place, in AVX-512 or AVX2 where the machine has them (an element-wise select: the same bits in any clone).
// NaN passes, as in torch: a unit whose product overflowed (inf − inf) must reach the output, where apply and the
// training plans refuse it, instead of becoming 0 and a silently wrong position. Other values: max(z, +0).
NEMBED_ISA_CLONES void relu(float* z, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) z[i] = z[i] > 0.0f || z[i] != z[i] ? z[i] : 0.0f;
}

void activate(Activation a, float* z, std::size_t n) {
    switch (a) {
        case Activation::identity: return;
        case Activation::relu: relu(z, n); return;
        case Activation::softplus: softplus_inplace(z, n); return;  // torch.nn.Softplus (beta 1, threshold 20)
        case Activation::tanh: tanh_packet(z, n); return;
    }
}

// g ← g · 1[h > 0] (ReLU's derivative from its output), cloned as relu().
NEMBED_ISA_CLONES void relu_mask(const float* h, float* g, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) g[i] = h[i] > 0.0f ? g[i] : 0.0f;
}
// relu_mask in bf16 precision, in one pass that also sums the bias gradient: the mask read from the bf16 copy of
// ReLU's output (nonzero magnitude bits: h > 0, the kernel's ReLU writing −0 too; the copy the layer's dW product has
// just read, in cache, at half the bytes of the float32 one), the masked dL/dZ written only rounded to bf16 (the
// products' operand) and summed over the rows into db in float32, row after row (the float32 values are needed for
// nothing else: no float32 write and no second read for the sums). 1[bf16(h) > 0] differs from 1[h > 0] only for
// h < 2^-134, which rounds to 0.
NEMBED_ISA_CLONES void relu_mask_bf16(const std::uint16_t* __restrict h16, const float* __restrict g,
                                      std::uint16_t* __restrict g16, float* __restrict db, std::size_t m,
                                      std::size_t a) {
    for (std::size_t j = 0; j < a; ++j) db[j] = 0.0f;
    for (std::size_t r = 0; r < m; ++r) {
        const std::uint16_t* __restrict h = h16 + r * a;
        const float* __restrict gr = g + r * a;
        std::uint16_t* __restrict out = g16 + r * a;
        for (std::size_t j = 0; j < a; ++j) {
            // The magnitude bits widened to 32 bits (a 16-bit test beside float lanes compiled to mask shuffles,
            // ~1.3x the time).
            const float v = static_cast<std::uint32_t>(h[j]) << 17 != 0 ? gr[j] : 0.0f;
            db[j] += v;
            out[j] = round_bf16(v);
        }
    }
}

// sum[i] += part[i] in double: one chunk's weight-gradient partial into the gradient (an element-wise add in a fixed
// chunk order: the same bits in any clone).
NEMBED_ISA_CLONES void add_partial(const float* part, double* sum, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) sum[i] += static_cast<double>(part[i]);
}

// g ← g · act'(z), written with the activation's output h = act(z): ReLU 1[h > 0], tanh 1 − h²,
// Softplus σ(z) = 1 − exp(−h).
void multiply_derivative(Activation a, const float* h, float* g, std::size_t n) {
    switch (a) {
        case Activation::identity: return;
        case Activation::relu: relu_mask(h, g, n); return;
        case Activation::softplus: multiply_softplus_derivative(h, g, n); return;
        case Activation::tanh:
            for (std::size_t i = 0; i < n; ++i) g[i] *= 1.0f - h[i] * h[i];
            return;
    }
}

// Every cache line of X's row r (when r is a row of X), ahead of its read.
void prefetch_row(MatrixView<float> X, index_t r) {
    if (r < 0 || static_cast<std::size_t>(r) >= X.rows) return;
    const char* p = reinterpret_cast<const char*>(X.row(static_cast<std::size_t>(r)));
    for (std::size_t b = 0; b < X.cols * sizeof(float); b += 64) __builtin_prefetch(p + b);
    __builtin_prefetch(p + X.cols * sizeof(float) - 1);
}

// out = (x − mean)·inv in double, rounded once (mean null: x·inv); element-wise, the same bits in any clone.
NEMBED_ISA_CLONES void normalize_row(const float* __restrict x, const double* __restrict mean, double inv,
                                     float* __restrict out, std::size_t n) {
    if (mean) {
        for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<float>((static_cast<double>(x[j]) - mean[j]) * inv);
    } else {
        for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<float>(static_cast<double>(x[j]) * inv);
    }
}

} // namespace

Activation parse_activation(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "identity" || s == "linear" || s == "none") return Activation::identity;
    if (s == "relu") return Activation::relu;
    if (s == "softplus") return Activation::softplus;
    if (s == "tanh") return Activation::tanh;
    throw InvalidArgument("activation: unknown activation '" + name + "' (expected relu, softplus, tanh or identity)");
}

std::string to_string(Activation a) {
    switch (a) {
        case Activation::identity: return "identity";
        case Activation::relu: return "relu";
        case Activation::softplus: return "softplus";
        case Activation::tanh: return "tanh";
    }
    return "?";
}

MlpInit parse_mlp_init(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "torch" || s == "torch_default" || s == "default") return MlpInit::torch_default;
    if (s == "he_normal" || s == "kaiming_normal") return MlpInit::he_normal;
    if (s == "he_uniform" || s == "kaiming_uniform") return MlpInit::he_uniform;
    if (s == "xavier_normal" || s == "glorot_normal") return MlpInit::xavier_normal;
    if (s == "xavier_uniform" || s == "glorot_uniform") return MlpInit::xavier_uniform;
    throw InvalidArgument("network init: unknown initialisation '" + name +
                          "' (expected torch_default, he_normal, he_uniform, xavier_normal or xavier_uniform)");
}

std::string to_string(MlpInit i) {
    switch (i) {
        case MlpInit::torch_default: return "torch_default";
        case MlpInit::he_normal: return "he_normal";
        case MlpInit::he_uniform: return "he_uniform";
        case MlpInit::xavier_normal: return "xavier_normal";
        case MlpInit::xavier_uniform: return "xavier_uniform";
    }
    return "?";
}

void validate(const MlpOptions& o) {
    if (o.precision == Precision::bf16) require_bf16_gemm("network");
    for (std::size_t i = 0; i < o.hidden.size(); ++i)
        require(o.hidden[i] > 0, "network hidden layer " + std::to_string(i) + ": width must be > 0, got " +
                                     std::to_string(o.hidden[i]));
    require(o.chunk_rows > 0, "network chunk_rows must be > 0");
    require(std::isfinite(o.input_row_norm) && o.input_row_norm >= 0.0,
            "network input_row_norm must be finite and >= 0 (0: unit RMS per entry), got " +
                std::to_string(o.input_row_norm));
}

namespace {

// A few rows far from the rest set the RMS alone, and scaled by it the other rows would shrink to one point for the
// network (a row of 1e30 among rows of unit size: every other position equal, and no error). The bulk's size is
// the median distance of the rows to the column medians (both over at most 1 024 evenly spaced rows), which such
// rows do not move; below 1e-5 of the map's scale (√D · RMS) the bulk is refused, naming the farthest row. (On
// 3 blobs with one far row the routines' maps kept their accuracy down to a ratio of 5e-5 and lost it at 5e-7.)
void require_bulk_resolved(MatrixView<float> X, double rms, int n_threads) {
    const std::size_t N = X.rows, D = X.cols;
    if (N < 3) return;
    // The bulk from at most 1 024 evenly spaced rows: the threshold spans decades, and a pass over all rows (column
    // medians of 8 192 rows, every row's distance) was 4 % of a ParametricTSNE run on 784 pixels. All rows are
    // scanned only to name the farthest one when the data is refused.
    const std::size_t step = (N + 1023) / 1024, m = (N + step - 1) / step;
    // Columns in groups of 16 (a cache line of each row), gathered row by row rather than one strided column at a time.
    constexpr std::size_t group = 16;
    std::vector<double> median(D);
    parallel_for(n_threads, (D + group - 1) / group, [&](std::size_t g) {
        const std::size_t j0 = g * group, w = std::min(group, D - j0);
        std::vector<float> cols(w * m);
        for (std::size_t i = 0; i < m; ++i) {
            const float* x = X.row(i * step) + j0;
            for (std::size_t c = 0; c < w; ++c) cols[c * m + i] = x[c];
        }
        for (std::size_t c = 0; c < w; ++c) {
            const auto col = cols.begin() + static_cast<std::ptrdiff_t>(c * m);
            const auto mid = col + static_cast<std::ptrdiff_t>(m / 2);
            std::nth_element(col, mid, col + static_cast<std::ptrdiff_t>(m));
            median[j0 + c] = static_cast<double>(*mid);
        }
    });
    const auto distance = [&](std::size_t r) {
        const float* x = X.row(r);
        double s[4] = {0.0, 0.0, 0.0, 0.0};  // four chains: one was bound by the adds' latency
        std::size_t j = 0;
        for (; j + 4 <= D; j += 4)
            for (std::size_t u = 0; u < 4; ++u) {
                const double d = static_cast<double>(x[j + u]) - median[j + u];
                s[u] += d * d;
            }
        for (; j < D; ++j) {
            const double d = static_cast<double>(x[j]) - median[j];
            s[0] += d * d;
        }
        return std::sqrt((s[0] + s[1]) + (s[2] + s[3]));
    };
    std::vector<double> dist(m);
    parallel_for(n_threads, m, [&](std::size_t i) { dist[i] = distance(i * step); });
    auto mid = dist.begin() + static_cast<std::ptrdiff_t>(m / 2);
    std::nth_element(dist.begin(), mid, dist.end());
    const double bulk = *mid, map_scale = rms * std::sqrt(static_cast<double>(D));
    if (bulk <= 0.0 || !std::isfinite(map_scale) || bulk >= 1e-5 * map_scale) return;  // bulk 0: half the rows equal
    std::size_t far = 0;
    double far_dist = -1.0;
    for (std::size_t r = 0; r < N; ++r)
        if (const double d = distance(r); d > far_dist) far = r, far_dist = d;
    std::ostringstream os;
    os << std::setprecision(3) << "input normalisation: row " << far << " lies " << far_dist / bulk
       << " times farther from the data's centre than the median row; scaled with it, the other rows would span "
       << bulk / map_scale
       << " of the network's unit input scale and look alike to it. Remove or rescale such rows, or embed them "
          "with a non-parametric method";
    throw InvalidArgument(os.str());
}

} // namespace

InputNormalization InputNormalization::fit(MatrixView<float> X, int n_threads, double row_norm) {
    require(X.rows > 0 && X.cols > 0, "input normalisation: the data is empty");
    require(std::isfinite(row_norm) && row_norm >= 0.0,
            "input normalisation: the target row norm must be finite and >= 0, got " + std::to_string(row_norm));
    const std::size_t D = X.cols, block = 1024, n_blocks = (X.rows + block - 1) / block;
    // Column sums per fixed block of rows, added in block order: the same bits for any thread count.
    std::vector<double> partial(n_blocks * D, 0.0);
    parallel_for(n_threads, n_blocks, [&](std::size_t b) {
        double* sum = partial.data() + b * D;
        for (std::size_t r = b * block; r < std::min(X.rows, (b + 1) * block); ++r) {
            const float* x = X.row(r);
            for (std::size_t j = 0; j < D; ++j) sum[j] += static_cast<double>(x[j]);
        }
    });
    InputNormalization norm;
    norm.mean.assign(D, 0.0);
    for (std::size_t b = 0; b < n_blocks; ++b)
        for (std::size_t j = 0; j < D; ++j) norm.mean[j] += partial[b * D + j];
    for (std::size_t j = 0; j < D; ++j) {
        norm.mean[j] /= static_cast<double>(X.rows);
        require_lazy(std::isfinite(norm.mean[j]), [&] {
            return "input normalisation: column " + std::to_string(j) + " has a non-finite value";
        });
    }
    const double ss = fixed_block_sum(n_threads, X.rows, [&](std::size_t rb, std::size_t re) {
        double s = 0.0;
        for (std::size_t r = rb; r < re; ++r) {
            const float* x = X.row(r);
            for (std::size_t j = 0; j < D; ++j) {
                const double d = static_cast<double>(x[j]) - norm.mean[j];
                s += d * d;
            }
        }
        return s;
    });
    const double rms = std::sqrt(ss / (static_cast<double>(X.rows) * static_cast<double>(D)));
    // Constant data: centred only. A row-norm target scales by the RMS row norm √D · rms over the target.
    const double target = row_norm > 0.0 ? rms * std::sqrt(static_cast<double>(D)) / row_norm : rms;
    norm.scale = std::isnormal(rms) && std::isnormal(target) ? target : 1.0;
    require_bulk_resolved(X, std::isnormal(rms) ? rms : 1.0, n_threads);
    return norm;
}

void Mlp::set_input_normalization(InputNormalization norm) {
    require(norm.mean.empty() || norm.mean.size() == n_inputs(),
            "network: the input normalisation has " + std::to_string(norm.mean.size()) +
                " means but the network takes " + std::to_string(n_inputs()) + " inputs");
    for (double m : norm.mean) require(std::isfinite(m), "network: the input normalisation's mean is not finite");
    require(std::isfinite(norm.scale) && norm.scale > 0.0,
            "network: the input normalisation's scale must be positive and finite, got " + std::to_string(norm.scale));
    input_norm_ = std::move(norm);
    normalize_pending_ = false;
}

void Mlp::fit_input_normalization(MatrixView<float> X, int n_threads) {
    if (!normalize_pending_) return;
    require(X.cols == n_inputs(), "network: the data has " + std::to_string(X.cols) + " columns but the network takes " +
                                      std::to_string(n_inputs()) + " inputs");
    set_input_normalization(InputNormalization::fit(X, n_threads, input_row_norm_));
}

void Mlp::normalize_inputs(const float* x, std::size_t rows, float* out) const {
    const std::size_t n = rows * n_inputs();
    if (input_norm_.identity()) {
        std::copy(x, x + n, out);
        return;
    }
    const double* mean = input_norm_.mean.empty() ? nullptr : input_norm_.mean.data();
    const double inv = 1.0 / input_norm_.scale;
    if (!mean) {
        normalize_row(x, nullptr, inv, out, n);
        return;
    }
    for (std::size_t r = 0; r < rows; ++r) normalize_row(x + r * n_inputs(), mean, inv, out + r * n_inputs(), n_inputs());
}

void Mlp::layout() {
    offsets_.clear();
    std::size_t p = 0;
    for (std::size_t l = 0; l + 1 < widths_.size(); ++l) {
        offsets_.push_back(p);
        p += widths_[l + 1] * widths_[l] + widths_[l + 1];
    }
    params_.resize(p);
    if (precision_ == Precision::bf16) params16_.resize(p);
    master_.resize(p);
    grad_.assign(p, 0.0);
}

Mlp::Mlp(std::size_t n_inputs, std::size_t n_outputs, const MlpOptions& options) {
    validate(options);
    require(n_inputs > 0, "network: the input dimension must be > 0");
    require(n_outputs > 0, "network: the output dimension (n_components) must be > 0");
    widths_.push_back(n_inputs);
    for (long h : options.hidden) widths_.push_back(static_cast<std::size_t>(h));
    widths_.push_back(n_outputs);
    hidden_act_ = options.hidden_activation;
    output_act_ = options.output_activation;
    chunk_rows_ = options.chunk_rows;
    precision_ = options.precision;
    normalize_pending_ = options.normalize_inputs;
    input_row_norm_ = options.input_row_norm;
    layout();
    for (std::size_t l = 0; l < n_layers(); ++l) {
        const double fan_in = static_cast<double>(widths_[l]), fan_out = static_cast<double>(widths_[l + 1]);
        Rng rng(options.seed, l);
        const std::size_t nw = widths_[l + 1] * widths_[l], nb = widths_[l + 1];
        double* W = master_.data() + offsets_[l];
        double* b = W + nw;
        const double torch_bound = 1.0 / std::sqrt(fan_in);
        for (std::size_t i = 0; i < nw; ++i) {
            switch (options.init) {
                case MlpInit::torch_default: W[i] = rng.uniform(-torch_bound, torch_bound); break;
                case MlpInit::he_normal: W[i] = rng.normal(0.0, std::sqrt(2.0 / fan_in)); break;
                case MlpInit::he_uniform: {
                    const double a = std::sqrt(6.0 / fan_in);
                    W[i] = rng.uniform(-a, a);
                    break;
                }
                case MlpInit::xavier_normal: W[i] = rng.normal(0.0, std::sqrt(2.0 / (fan_in + fan_out))); break;
                case MlpInit::xavier_uniform: {
                    const double a = std::sqrt(6.0 / (fan_in + fan_out));
                    W[i] = rng.uniform(-a, a);
                    break;
                }
            }
        }
        for (std::size_t i = 0; i < nb; ++i)
            b[i] = options.init == MlpInit::torch_default ? rng.uniform(-torch_bound, torch_bound) : 0.0;
    }
    // The master copy holds float32 values, so that both copies describe the same network.
    for (std::size_t i = 0; i < master_.size(); ++i) {
        params_[i] = static_cast<float>(master_[i]);
        master_[i] = params_[i];
    }
    refresh_bf16();
}

void Mlp::refresh_bf16(int n_threads, bool rounded) {
    if (precision_ != Precision::bf16) return;
    if (!rounded) to_bf16(params_.data(), params16_.data(), params_.size());
    weights_t16_.resize(params_.size());
    // Every layer's Wᵀ, split over all layers' rows of Wᵀ (input units) in one parallel call: after every step of
    // small batches (paraDime's tutorial: 700 steps, 784 × 100 in the first layer) this ran on one thread.
    std::size_t total = 0;
    for (std::size_t l = 0; l < n_layers(); ++l) total += widths_[l];
    parallelize(n_threads, total, [&](int, std::size_t rb, std::size_t re) {
        std::size_t l = 0, first = 0;
        while (first + widths_[l] <= rb) first += widths_[l++];
        for (std::size_t r = rb; r < re; ++r) {
            if (r >= first + widths_[l]) first += widths_[l++];
            const std::size_t a = widths_[l], o = widths_[l + 1], i = r - first;
            const std::uint16_t* W = params16_.data() + offsets_[l];
            std::uint16_t* Wt = weights_t16_.data() + offsets_[l] + i * o;
            for (std::size_t j = 0; j < o; ++j) Wt[j] = W[j * a + i];
        }
    });
    // Both weight operands pre-packed once a step for the chunks' products (each product repacked its B: ~8 % of a
    // 100-wide product's time at these shapes, bench_bf16_matmul).
    packed_wt_.resize(n_layers());
    packed_w_.resize(n_layers());
    for (std::size_t l = 0; l < n_layers(); ++l) {
        const std::size_t a = widths_[l], o = widths_[l + 1];
        gemm::pack_b(chunk_rows_, o, a, weights_t16_.data() + offsets_[l], packed_wt_[l]);  // forward: Wᵀ (a×o)
        if (l > 0) gemm::pack_b(chunk_rows_, a, o, params16_.data() + offsets_[l], packed_w_[l]);  // dIn: W (o×a)
    }
}

Mlp::Mlp(std::vector<std::size_t> widths, Activation hidden_activation, Activation output_activation,
         std::vector<float> parameters, std::size_t chunk_rows, Precision precision)
    : widths_(std::move(widths)), hidden_act_(hidden_activation), output_act_(output_activation),
      chunk_rows_(chunk_rows), precision_(precision) {
    if (precision_ == Precision::bf16) require_bf16_gemm("network");
    require(widths_.size() >= 2, "network: needs at least an input and an output width");
    for (std::size_t i = 0; i < widths_.size(); ++i)
        require(widths_[i] > 0, "network: width " + std::to_string(i) + " must be > 0");
    require(chunk_rows_ > 0, "network chunk_rows must be > 0");
    layout();
    require(parameters.size() == params_.size(),
            "network: " + std::to_string(parameters.size()) + " parameters given but the widths need " +
                std::to_string(params_.size()));
    params_ = std::move(parameters);
    for (std::size_t i = 0; i < params_.size(); ++i) {
        require(std::isfinite(params_[i]), "network: parameter " + std::to_string(i) + " is not finite");
        master_[i] = params_[i];
    }
    refresh_bf16();
}

void Mlp::set_parameters(std::span<const double> values) {
    require(values.size() == params_.size(), "network: set_parameters needs " + std::to_string(params_.size()) +
                                                 " values, got " + std::to_string(values.size()));
    for (std::size_t i = 0; i < values.size(); ++i) {
        master_[i] = values[i];
        params_[i] = static_cast<float>(values[i]);
    }
    refresh_bf16();
}

void Mlp::zero_grad() { std::fill(grad_.begin(), grad_.end(), 0.0); }

// Layers 0..K−1 on `rows` rows starting at row0 of every activation buffer (acts[0] already holds the inputs, or,
// when inputs16, acts16[0] holds them rounded). In bf16 precision every layer's input is also kept rounded in acts16
// (the products' operand and the backward's).
void Mlp::forward_chunk(std::size_t rows, std::vector<std::vector<float>>& acts,
                        std::vector<std::vector<std::uint16_t>>& acts16, std::size_t row0, bool inputs16) const {
    const std::size_t K = n_layers();
    const bool bf16 = precision_ == Precision::bf16;
    if (bf16 && !inputs16)
        to_bf16(acts[0].data() + row0 * widths_[0], acts16[0].data() + row0 * widths_[0], rows * widths_[0]);
    for (std::size_t l = 0; l < K; ++l) {
        const std::size_t a = widths_[l], o = widths_[l + 1];
        const float* W = params_.data() + offsets_[l];
        float* Z = acts[l + 1].data() + row0 * o;
        const Activation act = l + 1 == K ? output_act_ : hidden_act_;
        if (bf16 && act == Activation::relu && l + 1 < K) {
            // A hidden ReLU layer: bias, ReLU and the rounding in the product's kernel, straight into the next
            // layer's bf16 operand (reading back a float32 output the kernel wrote cost as much as the product). Its
            // float32 activations are not needed: backward reads the mask from the bf16 copy.
            gemm::h_wt(rows, o, a, acts16[l].data() + row0 * a, weights_t16_.data() + offsets_[l],
                       acts16[l + 1].data() + row0 * o, W + o * a, true, &packed_wt_[l]);
            continue;
        }
        if (bf16) {
            // The bias, and ReLU, in the product's kernel; the next layer's bf16 input in one flat pass.
            gemm::h_wt(rows, o, a, acts16[l].data() + row0 * a, weights_t16_.data() + offsets_[l], Z, W + o * a,
                       act == Activation::relu, &packed_wt_[l]);
            activate(act == Activation::relu ? Activation::identity : act, Z, rows * o);
            if (l + 1 < K) to_bf16(Z, acts16[l + 1].data() + row0 * o, rows * o);
            continue;
        }
        // Through blas for both backends: oneDNN's float32 sums of a row depend on the row's position in the product
        // and on the row count (its kernels' row blocking and tails; seen on AVX2), at every width (docs/
        // parametric.md §1). Cleared in one memset of the whole block (OpenBLAS's β = 0 clears it row by row, and a
        // per-row fill of the bias was slower still: this is the first touch of the batch's activations), the
        // product added, then the bias and the activation in one pass.
        std::memset(Z, 0, rows * o * sizeof(float));
        gemm::h_wt_add(rows, o, a, acts[l].data() + row0 * a, W, Z);
        if (act == Activation::relu) {
            bias_relu(Z, rows, o, W + o * a);
        } else {
            add_bias(Z, rows, o, W + o * a);
            activate(act, Z, rows * o);
        }
    }
}

Matrix<float> Mlp::apply(MatrixView<float> X, int n_threads) const {
    require(!widths_.empty(), "network: the network is empty (not fitted)");
    require(X.cols == n_inputs(), "network: the data has " + std::to_string(X.cols) +
                                      " columns but the network takes " + std::to_string(n_inputs()) + " inputs");
    Matrix<float> out(X.rows, n_outputs());
    const std::size_t n_chunks = (X.rows + chunk_rows_ - 1) / chunk_rows_;
    [[maybe_unused]] BlasSerial serial;
    parallelize(n_threads, n_chunks, [&](int, std::size_t cb, std::size_t ce) {
        std::vector<std::vector<float>> acts(widths_.size());
        std::vector<std::vector<std::uint16_t>> acts16(precision_ == Precision::bf16 ? n_layers() : 0);
        for (std::size_t l = 0; l < widths_.size(); ++l) acts[l].resize(chunk_rows_ * widths_[l]);
        for (std::size_t l = 0; l < acts16.size(); ++l) acts16[l].resize(chunk_rows_ * widths_[l]);
        for (std::size_t c = cb; c < ce; ++c) {
            const std::size_t r0 = c * chunk_rows_, rows = std::min(chunk_rows_, X.rows - r0);
            normalize_inputs(X.row(r0), rows, acts[0].data());
            forward_chunk(rows, acts, acts16, 0);
            std::copy(acts.back().begin(), acts.back().begin() + static_cast<std::ptrdiff_t>(rows * n_outputs()),
                      out.row(r0));
        }
    });
    // Finite rows can still overflow the float32 products (values near 3e38, or far outside the training data's
    // range after the input map): a clear error instead of NaN positions.
    const float* y = out.data();
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (std::isfinite(y[i])) continue;
        const bool diverged = std::any_of(params_.begin(), params_.end(), [](float p) { return !std::isfinite(p); });
        throw InvalidArgument("network: the output for row " + std::to_string(i / n_outputs()) + " is not finite: " +
                              (diverged ? "the network's parameters are not finite (its training diverged)"
                                        : "the row's values, or the network's weights (a training that "
                                          "diverged: lower the learning rate), are too large for the network's "
                                          "float32 products"));
    }
    return out;
}

MatrixView<float> Mlp::forward(MatrixView<float> X, std::span<const index_t> rows, int n_threads,
                               const std::uint16_t* X16, bool X_mapped) {
    require(!widths_.empty(), "network: the network is empty (not fitted)");
    require(X.cols == n_inputs(), "network: the data has " + std::to_string(X.cols) +
                                      " columns but the network takes " + std::to_string(n_inputs()) + " inputs");
    const std::size_t n = rows.empty() ? X.rows : rows.size();
    const bool bf16 = precision_ == Precision::bf16;
    acts_.resize(widths_.size());
    // bf16: the inputs are gathered straight into their rounded copy (the float32 rows are not needed).
    for (std::size_t l = bf16 ? 1 : 0; l < widths_.size(); ++l) acts_[l].resize(n * widths_[l]);
    acts16_.resize(bf16 ? n_layers() : 0);
    for (std::size_t l = 0; l < acts16_.size(); ++l) acts16_[l].resize(n * widths_[l]);
    batch_rows_ = n;
    const std::size_t D = X.cols, n_chunks = (n + chunk_rows_ - 1) / chunk_rows_;
    [[maybe_unused]] BlasSerial serial;
    parallel_for(n_threads, n_chunks, [&](std::size_t c) {
        const std::size_t r0 = c * chunk_rows_, m = std::min(chunk_rows_, n - r0);
        // The chunk's input rows: copied, or in bf16 precision rounded in the same pass (one read of X's rows, no
        // float32 copy to read back).
        float* in = bf16 ? nullptr : acts_[0].data() + r0 * D;
        std::uint16_t* in16 = bf16 ? acts16_[0].data() + r0 * D : nullptr;
        // bf16 with an input map: the chunk's rows mapped in float32 here first, then rounded (X16, when given,
        // holds the mapped rows rounded).
        const bool mapped = !X_mapped && !input_norm_.identity();
        std::vector<float> staged;
        if (bf16 && mapped && !X16) staged.resize(m * D);
        if (rows.empty()) {
            if (bf16 && X16) std::copy_n(X16 + r0 * D, m * D, in16);
            else if (bf16 && mapped) {
                normalize_inputs(X.row(r0), m, staged.data());
                to_bf16(staged.data(), in16, m * D);
            } else if (bf16) to_bf16(X.row(r0), in16, m * D);
            else if (mapped) normalize_inputs(X.row(r0), m, in);
            else std::copy_n(X.row(r0), m * D, in);
        } else {
            for (std::size_t i = 0; i < m; ++i) {
                const index_t r = rows[r0 + i];
                require_lazy(r >= 0 && static_cast<std::size_t>(r) < X.rows, [&] {
                    return "network: row index " + std::to_string(r) + " out of range [0, " +
                           std::to_string(X.rows) + ")";
                });
                if (bf16 && X16) {
                    std::copy_n(X16 + static_cast<std::size_t>(r) * D, D, in16 + i * D);
                    continue;
                }
                const float* x = X.row(static_cast<std::size_t>(r));
                if (!bf16) {
                    // The row 8 ahead prefetched, as below: rows sampled from a training set larger than the
                    // cache are latency-bound reads, one row at a time without it.
                    if (i + 8 < m) prefetch_row(X, rows[r0 + i + 8]);
                    if (mapped) normalize_inputs(x, 1, in + i * D);
                    else std::copy(x, x + D, in + i * D);
                    continue;
                }
                // The row 8 ahead prefetched: the rounding loop keeps fewer row reads in flight than memmove did.
                if (i + 8 < m) prefetch_row(X, rows[r0 + i + 8]);
                if (mapped) {
                    normalize_inputs(x, 1, staged.data() + i * D);
                    to_bf16(staged.data() + i * D, in16 + i * D, D);
                } else {
                    to_bf16(x, in16 + i * D, D);
                }
            }
        }
        forward_chunk(m, acts_, acts16_, r0, bf16);
    });
    return {acts_.back().data(), n, n_outputs()};
}

void Mlp::backward(const float* dY, int n_threads, float* dX) {
    require(batch_rows_ > 0 && acts_.size() == widths_.size(), "network: backward needs a forward pass first");
    const std::size_t n = batch_rows_, K = n_layers(), P = params_.size();
    const std::size_t n_chunks = (n + chunk_rows_ - 1) / chunk_rows_;
    partials_.resize(n_chunks * P);
    std::size_t max_width = 0;
    for (std::size_t w : widths_) max_width = std::max(max_width, w);
    [[maybe_unused]] BlasSerial serial;
    // Per worker, two gradient buffers, kept across batches (the training loop does not allocate).
    if (scratch_.size() < 2 * static_cast<std::size_t>(n_threads)) scratch_.resize(2 * static_cast<std::size_t>(n_threads));
    for (auto& v : scratch_) v.resize(chunk_rows_ * max_width);
    const bool bf16 = precision_ == Precision::bf16;
    if (bf16) {
        scratch16_.resize(std::max(scratch16_.size(), 2 * static_cast<std::size_t>(n_threads)));
        for (auto& v : scratch16_) v.resize(chunk_rows_ * max_width);
    }
    parallelize(n_threads, n_chunks, [&](int w, std::size_t cb, std::size_t ce) {
        float* buf[2] = {scratch_[2 * static_cast<std::size_t>(w)].data(),
                         scratch_[2 * static_cast<std::size_t>(w) + 1].data()};
        // bf16: G rounded, for both of the layer's products (the bias gradient sums G in float32); the fused mask
        // pass writes the next G16 into the other buffer.
        std::uint16_t* G16 = bf16 ? scratch16_[2 * static_cast<std::size_t>(w)].data() : nullptr;
        std::uint16_t* G16next = bf16 ? scratch16_[2 * static_cast<std::size_t>(w) + 1].data() : nullptr;
        for (std::size_t c = cb; c < ce; ++c) {
            const std::size_t r0 = c * chunk_rows_, m = std::min(chunk_rows_, n - r0);
            float* part = partials_.data() + c * P;
            const std::size_t out_w = widths_[K];
            // G: dL/dZ of the layer at hand. An identity output reads dY in place (no copy).
            const float* G = dY + r0 * out_w;
            int next = 0;  // the buffer the next dL/dH goes to (never the one G is in)
            if (output_act_ != Activation::identity) {
                std::copy(dY + r0 * out_w, dY + (r0 + m) * out_w, buf[0]);
                multiply_derivative(output_act_, acts_[K].data() + r0 * out_w, buf[0], m * out_w);
                G = buf[0];
                next = 1;
            }
            if (bf16) to_bf16(G, G16, m * out_w);
            bool db_done = false;  // the fused bf16 mask pass has already summed this layer's bias gradient
            for (std::size_t l = K; l-- > 0;) {
                const std::size_t a = widths_[l], o = widths_[l + 1];
                Vec db(part + offsets_[l] + o * a, static_cast<Eigen::Index>(o));
                // bf16: the layer below's stored inputs requested into L2 while this layer's products run (dW's
                // packing read them first, from beyond L2).
                if (bf16 && l > 0) {
                    const char* p = reinterpret_cast<const char*>(acts16_[l - 1].data() + r0 * widths_[l - 1]);
                    for (std::size_t b = 0; b < m * widths_[l - 1] * sizeof(std::uint16_t); b += 64)
                        __builtin_prefetch(p + b, 0, 2);
                }
                if (bf16)
                    gemm::gt_h(m, o, a, G16, acts16_[l].data() + r0 * a, part + offsets_[l]);
                else
                    gemm::gt_h(m, o, a, G, acts_[l].data() + r0 * a, part + offsets_[l], f32_backend_);
                if (!db_done) db = CMap(G, static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(o)).colwise().sum();
                if (l == 0 && dX == nullptr) break;
                if (l > 0 && bf16 && hidden_act_ == Activation::relu &&
                    gemm::g_w_relu_mask(m, o, a, G16, params16_.data() + offsets_[l], acts16_[l].data() + r0 * a,
                                        G16next, part + offsets_[l - 1] + a * widths_[l - 1], &packed_w_[l])) {
                    // dIn, the mask and layer l−1's bias gradient in the product's store (no float32 dIn).
                    std::swap(G16, G16next);
                    db_done = true;
                    continue;
                }
                float* target = l == 0 ? dX + r0 * a : buf[next];
                if (bf16)
                    gemm::g_w(m, o, a, G16, params16_.data() + offsets_[l], target, &packed_w_[l]);
                else
                    gemm::g_w(m, o, a, G, params_.data() + offsets_[l], target, f32_backend_);
                if (l == 0) {
                    // dL/dx = dL/dx' / scale (x' = (x − mean) / scale).
                    if (input_norm_.scale != 1.0) {
                        const float inv = static_cast<float>(1.0 / input_norm_.scale);
                        for (std::size_t k = 0; k < m * a; ++k) target[k] *= inv;
                    }
                    break;
                }
                const float* h = acts_[l].data() + r0 * a;
                db_done = bf16 && hidden_act_ == Activation::relu;
                if (db_done) {
                    // G16 is free: both products of layer l are done. Layer l−1's bias gradient summed here.
                    relu_mask_bf16(acts16_[l].data() + r0 * a, target, G16, part + offsets_[l - 1] + a * widths_[l - 1],
                                   m, a);
                } else {
                    multiply_derivative(hidden_act_, h, target, m * a);
                    if (bf16) to_bf16(target, G16, m * a);
                }
                G = target;  // (unmasked when db_done: then only G16 is read)
                next ^= 1;
            }
        }
    });
    // Fixed-order reduction over chunks, in double: the gradient does not depend on the thread count.
    parallelize(n_threads, P, [&](int, std::size_t pb, std::size_t pe) {
        for (std::size_t c = 0; c < n_chunks; ++c) add_partial(partials_.data() + c * P + pb, grad_.data() + pb, pe - pb);
    });
}

void Mlp::step(Optimizer& optimizer, double lr, int n_threads, std::optional<double> clip) {
    if (clip) {
        const double c = *clip;
        for (double& g : grad_) g = std::clamp(g, -c, c);
    }
    optimizer.step(master_.data(), grad_.data(), master_.size(), lr, n_threads);
    // The float32 and bf16 copies of the new weights and the cleared gradient in one parallel pass (three serial
    // passes over the parameters after every batch before).
    const bool bf16 = precision_ == Precision::bf16;
    parallelize(n_threads, master_.size(), [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) params_[i] = static_cast<float>(master_[i]);
        if (bf16) to_bf16(params_.data() + b, params16_.data() + b, e - b);
        std::fill(grad_.begin() + static_cast<std::ptrdiff_t>(b), grad_.begin() + static_cast<std::ptrdiff_t>(e), 0.0);
    });
    refresh_bf16(n_threads, true);
}

} // namespace nembed
