#pragma once
// Shared by the network tests that compare a few training steps across thread counts (bits must not depend on them).
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/parametric/mlp.hpp"

namespace nembed::testing {

/// Three Adam steps (rate `rate`, gradient clipped at 4) of `net` on the rows `batch` of X (d columns) with
/// dL/dY = Y − 0.5, at `threads` threads; returns the last backward's dL/dX.
inline std::vector<float> three_adam_steps(Mlp& net, MatrixView<float> X, const std::vector<index_t>& batch,
                                           std::size_t d, int threads, double rate = 0.01) {
    Adam adam;
    std::vector<float> dX(batch.size() * d);
    for (int step = 0; step < 3; ++step) {
        MatrixView<float> Y = net.forward(X, batch, threads);
        std::vector<float> dY(Y.size());
        for (std::size_t i = 0; i < dY.size(); ++i) dY[i] = Y.data[i] - 0.5f;
        net.backward(dY.data(), threads, dX.data());
        net.step(adam, rate, threads, 4.0);
    }
    return dX;
}

} // namespace nembed::testing
