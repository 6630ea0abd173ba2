// Input covariance forms applied without forming Σ (see input_covariance.hpp for the layout).
#include "nembed/sensitivity/input_covariance.hpp"

#include <cmath>
#include <string>

#include "nembed/core/error.hpp"

namespace nembed {
namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::MatrixXd to_eigen(const Matrix<double>& m) {
    return Eigen::Map<const RowMajor>(m.data(), static_cast<Eigen::Index>(m.rows()),
                                      static_cast<Eigen::Index>(m.cols()));
}

// Symmetric PSD square root; throws if the matrix is not symmetric or has a clearly negative eigenvalue.
Eigen::MatrixXd psd_root(const Eigen::MatrixXd& A, const std::string& what) {
    require(A.rows() == A.cols(), what + " must be square");
    const double scale = std::max(1e-300, A.cwiseAbs().maxCoeff());
    require((A - A.transpose()).cwiseAbs().maxCoeff() <= 1e-10 * scale, what + " must be symmetric");
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(A);
    require(es.eigenvalues().minCoeff() >= -1e-10 * scale,
            what + " must be positive semi-definite (smallest eigenvalue " +
                std::to_string(es.eigenvalues().minCoeff()) + ")");
    return es.eigenvectors() * es.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal() *
           es.eigenvectors().transpose();
}

void check_finite_nonneg(const std::vector<double>& v, const char* what) {
    for (std::size_t i = 0; i < v.size(); ++i)
        require_lazy(std::isfinite(v[i]) && v[i] >= 0.0, [&] {
            return std::string(what) + ": entry " + std::to_string(i) + " must be finite and >= 0";
        });
}

} // namespace

InputCovariance InputCovariance::scalar(double variance) {
    require(std::isfinite(variance) && variance >= 0.0, "input covariance: the variance must be finite and >= 0");
    InputCovariance c;
    c.kind_ = Kind::scalar;
    c.s_ = variance;
    return c;
}

InputCovariance InputCovariance::diagonal(std::vector<double> variances) {
    check_finite_nonneg(variances, "input covariance: per-entry variances");
    InputCovariance c;
    c.kind_ = Kind::diagonal;
    c.diag_ = std::move(variances);
    return c;
}

InputCovariance InputCovariance::kronecker(const Matrix<double>& sample_cov, const Matrix<double>& feature_cov) {
    require_finite(sample_cov.view(), "input covariance: sample_cov");
    require_finite(feature_cov.view(), "input covariance: feature_cov");
    InputCovariance c;
    c.kind_ = Kind::kronecker;
    c.A_ = to_eigen(sample_cov);
    c.B_ = to_eigen(feature_cov);
    c.rootA_ = psd_root(c.A_, "input covariance: sample_cov (N x N)");
    c.rootB_ = psd_root(c.B_, "input covariance: feature_cov (D x D)");
    return c;
}

InputCovariance InputCovariance::dense(const Matrix<double>& covariance) {
    require_finite(covariance.view(), "input covariance: dense covariance");
    InputCovariance c;
    c.kind_ = Kind::dense;
    c.A_ = to_eigen(covariance);
    c.rootA_ = psd_root(c.A_, "input covariance: dense covariance (N*D x N*D)");
    return c;
}

InputCovariance InputCovariance::low_rank_plus_diagonal(const Matrix<double>& factor, std::vector<double> diagonal) {
    require_finite(factor.view(), "input covariance: low-rank factor");
    require(factor.rows() == diagonal.size(), "input covariance: the low-rank factor has " +
                                                  std::to_string(factor.rows()) + " rows but the diagonal has " +
                                                  std::to_string(diagonal.size()) + " entries");
    check_finite_nonneg(diagonal, "input covariance: diagonal");
    InputCovariance c;
    c.kind_ = Kind::low_rank;
    c.A_ = to_eigen(factor);
    c.diag_ = std::move(diagonal);
    return c;
}

void InputCovariance::check(std::size_t n, std::size_t d) const {
    const auto nd = static_cast<Eigen::Index>(n * d);
    switch (kind_) {
    case Kind::scalar: return;
    case Kind::diagonal:
    case Kind::low_rank:
        require(diag_.size() == n * d, "input covariance: expected N*D = " + std::to_string(n * d) +
                                           " per-entry variances (point-major), got " + std::to_string(diag_.size()));
        return;
    case Kind::kronecker:
        require(A_.rows() == static_cast<Eigen::Index>(n),
                "input covariance: sample_cov must be N x N = " + std::to_string(n) + " x " + std::to_string(n) +
                    ", got " + std::to_string(A_.rows()) + " x " + std::to_string(A_.cols()) +
                    " (factor order: kron(sample_cov N x N, feature_cov D x D))");
        require(B_.rows() == static_cast<Eigen::Index>(d),
                "input covariance: feature_cov must be D x D = " + std::to_string(d) + " x " + std::to_string(d) +
                    ", got " + std::to_string(B_.rows()) + " x " + std::to_string(B_.cols()));
        return;
    case Kind::dense:
        require(A_.rows() == nd, "input covariance: the dense covariance must be N*D x N*D = " +
                                     std::to_string(n * d) + " square, got " + std::to_string(A_.rows()));
        return;
    }
}

std::vector<double> InputCovariance::variances(std::size_t n, std::size_t d) const {
    require(kind_ == Kind::scalar || kind_ == Kind::diagonal,
            "input covariance: per-entry variances exist only for the scalar and diagonal forms");
    if (kind_ == Kind::scalar) return std::vector<double>(n * d, s_);
    return diag_;
}

Eigen::MatrixXd InputCovariance::apply(const Eigen::MatrixXd& V, std::size_t n, std::size_t d) const {
    check(n, d);
    switch (kind_) {
    case Kind::scalar: return s_ * V;
    case Kind::diagonal: {
        Eigen::Map<const Eigen::VectorXd> v(diag_.data(), static_cast<Eigen::Index>(diag_.size()));
        return v.asDiagonal() * V;
    }
    case Kind::kronecker: {
        Eigen::MatrixXd out(V.rows(), V.cols());
        for (Eigen::Index c = 0; c < V.cols(); ++c) {
            Eigen::Map<const RowMajor> M(V.col(c).data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
            Eigen::Map<RowMajor> O(out.col(c).data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
            O.noalias() = A_ * M * B_.transpose();
        }
        return out;
    }
    case Kind::dense: return A_ * V;
    case Kind::low_rank: {
        Eigen::Map<const Eigen::VectorXd> v(diag_.data(), static_cast<Eigen::Index>(diag_.size()));
        return A_ * (A_.transpose() * V) + v.asDiagonal() * V;
    }
    }
    return V;
}

std::size_t InputCovariance::factor_cols(std::size_t n, std::size_t d) const {
    return kind_ == Kind::low_rank ? static_cast<std::size_t>(A_.cols()) + n * d : n * d;
}

Eigen::MatrixXd InputCovariance::apply_factor(const Eigen::MatrixXd& Z, std::size_t n, std::size_t d) const {
    check(n, d);
    require(static_cast<std::size_t>(Z.rows()) == factor_cols(n, d), "input covariance: factor block has wrong rows");
    switch (kind_) {
    case Kind::scalar: return std::sqrt(s_) * Z;
    case Kind::diagonal: {
        Eigen::Map<const Eigen::VectorXd> v(diag_.data(), static_cast<Eigen::Index>(diag_.size()));
        return v.cwiseSqrt().asDiagonal() * Z;
    }
    case Kind::kronecker: {
        Eigen::MatrixXd out(Z.rows(), Z.cols());
        for (Eigen::Index c = 0; c < Z.cols(); ++c) {
            Eigen::Map<const RowMajor> M(Z.col(c).data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
            Eigen::Map<RowMajor> O(out.col(c).data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
            O.noalias() = rootA_ * M * rootB_;  // kron(√A, √B) with symmetric roots
        }
        return out;
    }
    case Kind::dense: return rootA_ * Z;
    case Kind::low_rank: {
        const Eigen::Index r = A_.cols();
        Eigen::Map<const Eigen::VectorXd> v(diag_.data(), static_cast<Eigen::Index>(diag_.size()));
        return A_ * Z.topRows(r) + v.cwiseSqrt().asDiagonal() * Z.bottomRows(Z.rows() - r);
    }
    }
    return Z;
}

Eigen::MatrixXd InputCovariance::to_dense(std::size_t n, std::size_t d) const {
    check(n, d);
    const auto nd = static_cast<Eigen::Index>(n * d);
    switch (kind_) {
    case Kind::kronecker: {
        Eigen::MatrixXd K(nd, nd);
        for (Eigen::Index i = 0; i < static_cast<Eigen::Index>(n); ++i)
            for (Eigen::Index j = 0; j < static_cast<Eigen::Index>(n); ++j)
                K.block(i * static_cast<Eigen::Index>(d), j * static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d),
                        static_cast<Eigen::Index>(d)) = A_(i, j) * B_;
        return K;
    }
    case Kind::dense: return A_;
    default: return apply(Eigen::MatrixXd::Identity(nd, nd), n, d);
    }
}

} // namespace nembed
