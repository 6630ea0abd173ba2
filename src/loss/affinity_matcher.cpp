// TorchDR's AffinityMatcher objective (loss/affinity_matcher.hpp); the output affinities are affinity/'s.
#include "nembed/loss/affinity_matcher.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"

namespace nembed {

MatcherLossFn parse_matcher_loss_fn(const std::string& name) {
    if (name == "square_loss") return MatcherLossFn::square_loss;
    if (name == "cross_entropy_loss") return MatcherLossFn::cross_entropy_loss;
    throw InvalidArgument("loss_fn: Loss function " + name +
                          " not supported (TorchDR's: square_loss, cross_entropy_loss)");
}
std::string to_string(MatcherLossFn f) {
    return f == MatcherLossFn::square_loss ? "square_loss" : "cross_entropy_loss";
}

MatcherAffinityOut parse_matcher_affinity_out(const std::string& name) {
    if (name == "NormalizedGaussianAffinity") return MatcherAffinityOut::normalized_gaussian;
    if (name == "NormalizedStudentAffinity") return MatcherAffinityOut::normalized_student;
    if (name == "SinkhornAffinity") return MatcherAffinityOut::sinkhorn;
    throw InvalidArgument("affinity_out: " + name + " is not supported as an output affinity (supported: "
                          "NormalizedGaussianAffinity, NormalizedStudentAffinity, SinkhornAffinity)");
}
std::string to_string(MatcherAffinityOut a) {
    switch (a) {
    case MatcherAffinityOut::normalized_gaussian: return "NormalizedGaussianAffinity";
    case MatcherAffinityOut::normalized_student: return "NormalizedStudentAffinity";
    case MatcherAffinityOut::sinkhorn: return "SinkhornAffinity";
    }
    return "?";
}

void validate(const AffinityMatcherLossOptions& o) {
    require(o.affinity_out.has_value(), "affinity_out is not set: AffinityMatcher needs an output affinity");
    require(o.n_threads >= 1, "n_threads must be at least 1");
    const std::string sq = " (the gradient is derived for sqeuclidean, TorchDR's default)";
    switch (*o.affinity_out) {
    case MatcherAffinityOut::normalized_gaussian:
        require(std::isfinite(o.gaussian.sigma) && o.gaussian.sigma > 0, "sigma must be positive");
        require(o.gaussian.metric == CostMetric::sqeuclidean, "metric: affinity_out supports sqeuclidean only" + sq);
        break;
    case MatcherAffinityOut::normalized_student:
        require(std::isfinite(o.student.degrees_of_freedom) && o.student.degrees_of_freedom > 0,
                "degrees_of_freedom must be positive");
        require(o.student.metric == CostMetric::sqeuclidean, "metric: affinity_out supports sqeuclidean only" + sq);
        break;
    case MatcherAffinityOut::sinkhorn:
        static_cast<void>(SinkhornAffinity(o.sinkhorn));  // validates eps, tol, max_iter
        require(o.sinkhorn.metric == CostMetric::sqeuclidean, "metric: affinity_out supports sqeuclidean only" + sq);
        break;
    }
}

namespace {

// a'(D): the derivative of the log-kernel a = log A (before normalisation) in D = ‖z_i − z_j‖².
struct GaussianSlope {
    double inv_sigma;
    double operator()(double) const { return -inv_sigma; }
};
struct StudentSlope {
    double nu;
    double operator()(double D) const { return -0.5 * (nu + 1.0) / (nu + D); }
};
struct SinkhornStudentSlope {  // log K = −log(1 + D)/ε
    double inv_eps;
    double operator()(double D) const { return -inv_eps / (1.0 + D); }
};

double sqdist(const double* a, const double* b, std::size_t d) {
    double s = 0.0;
    for (std::size_t k = 0; k < d; ++k) {
        const double t = a[k] - b[k];
        s += t * t;
    }
    return s;
}

// grad_i = Σ_{j≠i} 2(H_ij + H_ji)·a'(D_ij)·(z_i − z_j), one row per task.
template <typename Slope>
void pair_gradient(MatrixView<double> Z, const Matrix<double>& H, Slope slope, double* grad, int n_threads) {
    const std::size_t n = Z.rows, d = Z.cols;
    parallel_for(n_threads, n, [&](std::size_t i) {
        const double* zi = Z.row(i);
        double* gi = grad + i * d;
        for (std::size_t k = 0; k < d; ++k) gi[k] = 0.0;
        for (std::size_t j = 0; j < n; ++j) {
            if (j == i) continue;
            const double* zj = Z.row(j);
            const double c = 2.0 * (H(i, j) + H(j, i)) * slope(sqdist(zi, zj, d));
            for (std::size_t k = 0; k < d; ++k) gi[k] += c * (zi[k] - zj[k]);
        }
    });
}

} // namespace

AffinityMatcherObjective::AffinityMatcherObjective(const CsrMatrix<double>& P, AffinityMatcherLossOptions options)
    : n_(P.n_rows), options_(std::move(options)) {
    validate(options_);
    P.validate("AffinityMatcher affinity_in");
    require(P.n_rows == P.n_cols && P.n_rows >= 2, "affinity_in: P must be square (n_samples x n_samples) with at "
                                                   "least 2 samples");
    P_ = Matrix<double>(n_, n_);
    for (std::size_t i = 0; i < n_; ++i)
        for (offset_t e = P.row_begin(i); e < P.row_end(i); ++e) {
            const double v = P.values[static_cast<std::size_t>(e)];
            require(std::isfinite(v) && v >= 0, "affinity_in: P must be non-negative and finite");
            P_(i, static_cast<std::size_t>(P.indices[static_cast<std::size_t>(e)])) += v;
        }
}

Matrix<double> AffinityMatcherObjective::log_affinity_out(MatrixView<double> Z) const {
    const int t = options_.n_threads;
    switch (*options_.affinity_out) {
    case MatcherAffinityOut::normalized_gaussian: {
        NormalizedGaussianAffinityOptions g = options_.gaussian;
        g.n_threads = t;
        return normalized_gaussian_affinity(Z, g, true);
    }
    case MatcherAffinityOut::normalized_student: {
        NormalizedStudentAffinityOptions s = options_.student;
        s.n_threads = t;
        return normalized_student_affinity(Z, s, true);
    }
    case MatcherAffinityOut::sinkhorn: {
        SinkhornAffinityOptions s = options_.sinkhorn;
        s.n_threads = t;
        return SinkhornAffinity(s).log_affinity(Z);  // from f = 0 (TorchDR's init_dual None) at every call
    }
    }
    return {};
}

double AffinityMatcherObjective::operator()(MatrixView<double> Z, double* grad) const {
    require(Z.rows == n_ && Z.cols >= 1, "AffinityMatcher: the embedding has " + std::to_string(Z.rows) +
                                             " rows, P " + std::to_string(n_));
    const int t = options_.n_threads;
    const bool square = options_.loss_fn == MatcherLossFn::square_loss;
    const Matrix<double> logQ = log_affinity_out(Z);
    Matrix<double> H(n_, n_);  // G = ∂L/∂log Q, then H = ∂L/∂a
    std::vector<double> row_loss(n_), row_g(n_);
    parallel_for(t, n_, [&](std::size_t i) {
        double loss = 0.0, gsum = 0.0;
        for (std::size_t j = 0; j < n_; ++j) {
            const double p = P_(i, j), l = logQ(i, j);
            double g;
            if (square) {
                const double q = std::exp(l), r = p - q;
                loss += r * r;
                g = -2.0 * r * q;
            } else {
                if (p != 0.0) loss -= p * l;  // 0·log 0 = 0
                g = -p;
            }
            H(i, j) = g;
            gsum += g;
        }
        row_loss[i] = loss;
        row_g[i] = gsum;
    });
    double loss = 0.0;
    for (double v : row_loss) loss += v;
    if (!grad) return loss;

    // ∂L/∂a from ∂L/∂log Q through the normalisation (log-softmax): H = G − S·Σ G along the normalised axis,
    // S the softmax along it (S = Q for (0, 1); N·Q for one axis, whose log Q carries − log N).
    const bool sinkhorn = *options_.affinity_out == MatcherAffinityOut::sinkhorn;
    if (!sinkhorn) {
        const NormalizationDim dim = *options_.affinity_out == MatcherAffinityOut::normalized_gaussian
                                         ? options_.gaussian.normalization_dim
                                         : options_.student.normalization_dim;
        if (dim != NormalizationDim::none) {
            const double scale = dim == NormalizationDim::both ? 1.0 : static_cast<double>(n_);
            std::vector<double> axis_sum;  // Σ G per row (dim1), per column (dim0), or in total (both)
            if (dim == NormalizationDim::dim1) {
                axis_sum = row_g;
            } else if (dim == NormalizationDim::dim0) {
                axis_sum.assign(n_, 0.0);
                parallel_for(t, n_, [&](std::size_t j) {
                    double s = 0.0;
                    for (std::size_t i = 0; i < n_; ++i) s += H(i, j);
                    axis_sum[j] = s;
                });
            } else {
                double s = 0.0;
                for (double v : row_g) s += v;
                axis_sum.assign(1, s);
            }
            parallel_for(t, n_, [&](std::size_t i) {
                for (std::size_t j = 0; j < n_; ++j) {
                    const double s = dim == NormalizationDim::dim1 ? axis_sum[i]
                                     : dim == NormalizationDim::dim0 ? axis_sum[j] : axis_sum[0];
                    H(i, j) -= scale * std::exp(logQ(i, j)) * s;
                }
            });
        }
    }
    switch (*options_.affinity_out) {
    case MatcherAffinityOut::normalized_gaussian:
        pair_gradient(Z, H, GaussianSlope{1.0 / options_.gaussian.sigma}, grad, t);
        break;
    case MatcherAffinityOut::normalized_student:
        pair_gradient(Z, H, StudentSlope{options_.student.degrees_of_freedom}, grad, t);
        break;
    case MatcherAffinityOut::sinkhorn:
        if (options_.sinkhorn.base_kernel == SinkhornBaseKernel::gaussian)
            pair_gradient(Z, H, GaussianSlope{1.0 / options_.sinkhorn.eps}, grad, t);
        else
            pair_gradient(Z, H, SinkhornStudentSlope{1.0 / options_.sinkhorn.eps}, grad, t);
        break;
    }
    return loss;
}

} // namespace nembed
