#pragma once
/// @file mlp.hpp
/// A multilayer perceptron for parametric embeddings (docs/parametric.md §1): linear layers y = act(x·Wᵀ + b) with
/// ReLU, Softplus, tanh or identity activations and any widths, float32 forward and backward on batches through
/// parametric/gemm.hpp's products (float32, or bf16 operands with float32 accumulation: MlpOptions::precision).
///
/// Parameters are one flat block, layer after layer: W (out × in, row-major as torch.nn.Linear.weight), then b.
/// The network computes with a float32 copy; the shared optimizers (optim/optimizer.hpp) step double arrays, so
/// the network keeps a double master copy that the optimizer steps and the float32 copy is refreshed from it after
/// every step (torch trains float32 parameters; the master copy only avoids rounding each small Adam step away).
///
/// Reproducibility: a batch is cut into chunks of `chunk_rows` rows (fixed, independent of the thread count); the
/// chunks run in parallel, each computing its own weight-gradient partial, and the partials are added in chunk
/// order in double precision. So forward, backward and the gradient are the same bits for any thread count.
///
///   Mlp net(784, 2, MlpOptions{});                     // cne's FCNetwork: 784 → 100 → 100 → 100 → 2, ReLU
///   net.forward(X, {}, n_threads);                    // all rows of X; net.output() is the batch's output
///   net.backward(dY, n_threads);                      // accumulates dL/dθ (optionally dL/dX)
///   net.step(adam, 0.001, n_threads);                 // one optimizer step, gradient cleared
///   Matrix<float> Y = net.apply(X_new, n_threads);    // new points, in chunks
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/types.hpp"
#include "nembed/parametric/gemm.hpp"

namespace nembed {

class Optimizer;

enum class Activation { identity, relu, softplus, tanh };
/// "identity"/"linear"/"none", "relu", "softplus", "tanh" (any case); throws InvalidArgument naming the activation.
Activation parse_activation(const std::string& name);
std::string to_string(Activation a);

/// How weights are initialised (biases: torch's U(±1/√fan_in) for torch_default, 0 otherwise).
enum class MlpInit {
    torch_default,   ///< torch.nn.Linear: kaiming_uniform(a = √5), i.e. W ~ U(±1/√fan_in) — what cne and paraDime get
    he_normal,       ///< W ~ N(0, 2/fan_in)
    he_uniform,      ///< W ~ U(±√(6/fan_in))
    xavier_normal,   ///< W ~ N(0, 2/(fan_in + fan_out))
    xavier_uniform,  ///< W ~ U(±√(6/(fan_in + fan_out)))
};
/// "torch"/"torch_default"/"default", "he_normal"/"kaiming_normal", "he_uniform"/"kaiming_uniform", "xavier_normal",
/// "xavier_uniform"/"glorot_uniform" (any case); throws InvalidArgument naming the value.
MlpInit parse_mlp_init(const std::string& name);
std::string to_string(MlpInit i);

/// The fixed affine map in front of the first layer (not trained; docs/parametric.md, "Input normalisation"):
/// x' = (x − mean) / scale per row, computed in double and rounded once to float32. Identity when mean is empty
/// and scale is 1 (networks of models saved before it existed, or fitted with MlpOptions::normalize_inputs false).
struct InputNormalization {
    std::vector<double> mean;  ///< one value per input, or empty (no shift)
    double scale = 1.0;        ///< > 0, finite

    bool identity() const { return mean.empty() && scale == 1.0; }
    /// The column means of X and the RMS of its centred entries (√(Σ(x − mean)² / (N·D)); 1 when that is 0 or not a
    /// normal double), summed in double over fixed row blocks: the same bits for any thread count. The network then
    /// sees data of unit scale centred at 0 wherever X sits (an offset of 10⁶ or a scale of 10³⁰ would otherwise
    /// saturate or overflow the float32 products). Throws InvalidArgument for an empty X or a non-finite value.
    /// Also throws InvalidArgument, naming the farthest row, when a few rows far from the rest set the scale alone
    /// and the other rows would shrink to one point: the median row distance to the column medians below 1e-5 of
    /// √D · RMS (a row of 1e30 among rows of unit size). Such rows cannot share one float32 input scale.
    /// row_norm > 0: the rows are scaled to that RMS row norm (√D times the RMS per entry) instead of a unit RMS per
    /// entry (MlpOptions::input_row_norm).
    static InputNormalization fit(MatrixView<float> X, int n_threads = 1, double row_norm = 0.0);
};

struct MlpOptions {
    /// Hidden widths (each > 0); empty: one linear layer. Default: cne's FCNetwork (100, 100, 100).
    std::vector<long> hidden = {100, 100, 100};
    Activation hidden_activation = Activation::relu;      ///< after every hidden layer (cne: ReLU)
    Activation output_activation = Activation::identity;  ///< after the last layer
    MlpInit init = MlpInit::torch_default;
    std::uint64_t seed = 0;        ///< layer l draws from the counter stream (seed, l)
    std::size_t chunk_rows = 512;  ///< rows per chunk (> 0); results depend on it, never on the thread count
    /// The products' precision (parametric/gemm.hpp): float32, or bf16 operands with float32 accumulation (the
    /// weights, their optimizer state, biases and the output stay float32; hidden ReLU layers are kept in bf16 only;
    /// needs oneDNN). docs/parametric.md §1.
    Precision precision = Precision::float32;
    /// Not in torch, paraDime or cne (their networks read the raw rows): true: the network's inputs are centred and
    /// scaled (InputNormalization::fit) on the training data when training starts (NetworkParametrization), and
    /// the same map is applied to every row the network reads afterwards (transform, apply) and saved with it.
    /// false: the raw rows, as the peers.
    bool normalize_inputs = true;
    /// The map's target scale: 0, a unit RMS per entry (cne's mode, TorchDR's encoder); > 0, this RMS row norm
    /// (√D · RMS per entry; paraDime's routines: 8, docs/parametric.md §1 "Why the unit scale"). Finite, >= 0.
    double input_row_norm = 0.0;
};
/// Throws InvalidArgument for a hidden width <= 0, chunk_rows == 0, or bf16 in a build without oneDNN.
void validate(const MlpOptions& options);

class Mlp {
public:
    Mlp() = default;
    /// A freshly initialised network n_inputs → hidden… → n_outputs (both > 0).
    Mlp(std::size_t n_inputs, std::size_t n_outputs, const MlpOptions& options);
    /// A network with given parameters (a reloaded model): widths (>= 2 entries, each > 0), float32 parameters of
    /// the layout above, the precision it was trained in. Throws InvalidArgument when the parameter count does not
    /// match the widths (or for bf16 without oneDNN).
    Mlp(std::vector<std::size_t> widths, Activation hidden_activation, Activation output_activation,
        std::vector<float> parameters, std::size_t chunk_rows = 512, Precision precision = Precision::float32);

    std::size_t n_inputs() const { return widths_.empty() ? 0 : widths_.front(); }
    std::size_t n_outputs() const { return widths_.empty() ? 0 : widths_.back(); }
    std::size_t n_layers() const { return widths_.empty() ? 0 : widths_.size() - 1; }
    /// in, hidden…, out.
    const std::vector<std::size_t>& widths() const { return widths_; }
    Activation hidden_activation() const { return hidden_act_; }
    Activation output_activation() const { return output_act_; }
    std::size_t chunk_rows() const { return chunk_rows_; }
    Precision precision() const { return precision_; }
    std::size_t n_parameters() const { return params_.size(); }
    /// The fixed map in front of the first layer (identity until fitted or set).
    const InputNormalization& input_normalization() const { return input_norm_; }
    /// Sets it (a reloaded model's): mean empty or of n_inputs() finite values, scale > 0 finite; else
    /// InvalidArgument. Clears a pending fit.
    void set_input_normalization(InputNormalization norm);
    /// true while a network built with MlpOptions::normalize_inputs has not been fitted to training data.
    bool input_normalization_pending() const { return normalize_pending_; }
    /// Fits the map to X (InputNormalization::fit) if one is pending; no-op otherwise.
    void fit_input_normalization(MatrixView<float> X, int n_threads = 1);
    /// rows × n_inputs() raw values → the values the first layer reads (the map above; a copy when identity).
    void normalize_inputs(const float* x, std::size_t rows, float* out) const;

    /// Offset of layer l's W in the flat block (its b follows W).
    std::size_t weight_offset(std::size_t layer) const { return offsets_.at(layer); }

    /// The float32 parameters the network computes with.
    const std::vector<float>& parameters() const { return params_; }
    /// The double master copy the optimizer steps.
    const std::vector<double>& master() const { return master_; }
    /// Sets both copies (size n_parameters()).
    void set_parameters(std::span<const double> values);

    /// Inference on new rows (X.cols == n_inputs(), else InvalidArgument naming the widths), chunk by chunk.
    Matrix<float> apply(MatrixView<float> X, int n_threads = 1) const;

    /// Training forward pass over rows `rows` of X (all rows when empty), keeping the activations for backward.
    /// Returns the output (rows × n_outputs, valid until the next forward). X16, optional and used in bf16
    /// precision only: X's rows through the input map (normalize_inputs), rounded by to_bf16 (same shape,
    /// row-major), so that rows sampled many times are mapped and rounded once (the same bits as without it).
    /// X_mapped: X's rows have already been through the input map (a trainer's copy mapped once; the same bits as
    /// mapping each gathered row), so they are read as they are.
    MatrixView<float> forward(MatrixView<float> X, std::span<const index_t> rows, int n_threads = 1,
                              const std::uint16_t* X16 = nullptr, bool X_mapped = false);
    /// Rows of the last forward pass.
    std::size_t batch_rows() const { return batch_rows_; }
    /// Backward pass of the last forward: dY (batch_rows × n_outputs) → adds dL/dθ to gradient(); when dX is given,
    /// writes dL/dX of the batch's raw input rows (batch_rows × n_inputs, through the input map). Throws InvalidArgument without a forward.
    void backward(const float* dY, int n_threads = 1, float* dX = nullptr);

    /// dL/dθ accumulated since the last step (n_parameters(), double).
    std::vector<double>& gradient() { return grad_; }
    const std::vector<double>& gradient() const { return grad_; }
    void zero_grad();
    /// optimizer.step on the master copy with the accumulated gradient (clipped by value to [−clip, clip] first
    /// when clip is set: torch's clip_grad_value_), then the float32 copy is refreshed and the gradient cleared.
    void step(Optimizer& optimizer, double lr, int n_threads = 1, std::optional<double> clip = std::nullopt);

private:
    void layout();
    // rounded: params16_ already holds params_ rounded (step's parallel pass); the layouts on n_threads.
    void refresh_bf16(int n_threads = 1, bool rounded = false);
    // acts16: the bf16 copies of every layer's input (bf16 precision only; else unused); inputs16: acts16[0] already
    // holds the rounded inputs (acts[0] is not read).
    void forward_chunk(std::size_t rows, std::vector<std::vector<float>>& acts,
                       std::vector<std::vector<std::uint16_t>>& acts16, std::size_t row0, bool inputs16 = false) const;
    std::vector<std::size_t> widths_;
    Activation hidden_act_ = Activation::relu, output_act_ = Activation::identity;
    std::size_t chunk_rows_ = 512;
    InputNormalization input_norm_;
    bool normalize_pending_ = false;
    double input_row_norm_ = 0.0;  // MlpOptions::input_row_norm, for the pending fit
    Precision precision_ = Precision::float32;
    // float32: the backward products' library, gemm::f32_backend() when the network was built.
    gemm::F32Backend f32_backend_ = gemm::f32_backend();
    std::vector<std::size_t> offsets_;  // per layer: offset of W
    std::vector<float> params_;
    std::vector<double> master_, grad_;
    // Training cache: activations of every layer for the last forward batch (acts_[0] the gathered inputs; in bf16
    // precision those are only in acts16_[0]).
    std::vector<std::vector<float>> acts_;
    std::size_t batch_rows_ = 0;
    std::vector<float> partials_;  // per chunk gradient partials (float32, summed in chunk order in double)
    std::vector<std::vector<float>> scratch_;  // backward: two gradient buffers per worker
    // bf16 precision: the parameters rounded (refreshed with params_) and every layer's Wᵀ rounded (the forward's
    // operand), the layer inputs of the last forward batch, and per worker two bf16 buffers of the backward's dL/dZ
    // (the fused mask pass writes the next layer's while the product reads this one's).
    std::vector<std::uint16_t> params16_, weights_t16_;
    // bf16: per layer, Wᵀ and W pre-packed for the chunks' forward and dIn products (gemm::pack_b).
    std::vector<gemm::PackedB> packed_wt_, packed_w_;
    std::vector<std::vector<std::uint16_t>> acts16_, scratch16_;
};

} // namespace nembed
