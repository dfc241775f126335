#include "datasets/pca.h"

#include <Eigen/Dense>

#include "engine/ops/ops.h"

namespace gg {

Pca Pca::fit(const Tensor& x, int64_t k) {
  GG_CHECK(x.dim() == 2 && x.size(0) >= 2, "Pca::fit: expected [N >= 2, D] vectors, got " + shape_str(x.shape()));
  const int64_t n = x.size(0), d = x.size(1);
  GG_CHECK(k >= 1 && k <= d, "Pca::fit: k = " + std::to_string(k) + " for " + std::to_string(d) + " dimensions");
  const auto v = x.to_vector();
  const Eigen::MatrixXd data = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(v.data(), n, d);
  const Eigen::RowVectorXd mean = data.colwise().mean();
  const Eigen::MatrixXd centered = data.rowwise() - mean;
  const Eigen::MatrixXd cov = centered.transpose() * centered / double(n - 1);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);  // eigenvalues in increasing order
  Pca p;
  p.mean.assign(mean.data(), mean.data() + d);
  for (int64_t i = d - 1; i >= 0; --i) p.variances.push_back(std::max(0.0, eig.eigenvalues()[i]));
  for (int64_t c = 0; c < k; ++c) {
    Eigen::VectorXd axis = eig.eigenvectors().col(d - 1 - c);
    // A sign convention, so the same data always gives the same picture: the largest entry is positive.
    Eigen::Index at;
    axis.cwiseAbs().maxCoeff(&at);
    if (axis[at] < 0) axis = -axis;
    p.components.emplace_back(axis.data(), axis.data() + d);
  }
  return p;
}

Tensor Pca::project(const Tensor& x) const {
  const int64_t d = static_cast<int64_t>(mean.size()), k = static_cast<int64_t>(components.size());
  GG_CHECK(x.dim() == 2 && x.size(1) == d, "Pca::project: fitted on " + std::to_string(d) + " dimensions, got " +
                                               shape_str(x.shape()));
  std::vector<double> basis;
  for (const auto& c : components) basis.insert(basis.end(), c.begin(), c.end());
  const Tensor centered = x.to(DType::f64) - Tensor::from_data(mean, {1, d}, DType::f64, x.device());
  return matmul(centered, Tensor::from_data(basis, {k, d}, DType::f64, x.device()), false, true);
}

int64_t Pca::rank_for_variance(double fraction) const {
  double total = 0, acc = 0;
  for (double v : variances) total += v;
  for (size_t i = 0; i < variances.size(); ++i) {
    acc += variances[i];
    if (acc >= fraction * total) return static_cast<int64_t>(i + 1);
  }
  return static_cast<int64_t>(variances.size());
}

}  // namespace gg
