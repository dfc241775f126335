#include "regularizers/poisson_grid.h"

#include <Eigen/Sparse>
#include <Eigen/SparseCholesky>
#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "datasets/corruption.h"
#include "regularizers/poisson.h"

namespace gg {

SourceFn encoder_source(Autoencoder& model) {
  return [&model](const Tensor& x) {
    GradModeGuard enable(true);  // the Jacobian needs a graph, also when the caller records none
    PenaltyOptions exact;
    exact.method = "exact";
    exact.create_graph = false;
    Generator unused(0);
    return contractive_source(model, x.to(model.config().dtype), exact, unused).s.detach().to(x.dtype());  // eq. 3
  };
}

namespace {

// Nodes (x_i, y_j) = (-L + i h, -L + j h), i, j = 0..n; node (i, j) is row i (n + 1) + j.
struct Grid {
  int64_t n;
  double L, h;
  int64_t side() const { return n + 1; }
  int64_t id(int64_t i, int64_t j) const { return i * side() + j; }
  double coord(int64_t i) const { return -L + static_cast<double>(i) * h; }
  double trap(int64_t i) const { return i == 0 || i == n ? 0.5 : 1.0; }  // trapezoid weight along one axis
};

Tensor node_points(const Grid& g) {
  std::vector<double> p;
  p.reserve(static_cast<size_t>(2 * g.side() * g.side()));
  for (int64_t i = 0; i <= g.n; ++i)
    for (int64_t j = 0; j <= g.n; ++j) p.push_back(g.coord(i)), p.push_back(g.coord(j));
  return Tensor::from_data(p, {g.side() * g.side(), 2}, DType::f64, Device::cpu());
}

double integrate(const std::vector<double>& f, const Grid& g) {
  double total = 0;
  for (int64_t i = 0; i <= g.n; ++i)
    for (int64_t j = 0; j <= g.n; ++j) total += g.trap(i) * g.trap(j) * f[static_cast<size_t>(g.id(i, j))];
  return total * g.h * g.h;
}

// d/dx_axis of a nodal field at node (i, j): central inside, second-order one-sided on the boundary.
double derivative(const std::vector<double>& v, const Grid& g, int64_t i, int64_t j, int axis) {
  const int64_t k = axis == 0 ? i : j;
  auto at = [&](int64_t kk) { return v[static_cast<size_t>(axis == 0 ? g.id(kk, j) : g.id(i, kk))]; };
  if (k == 0) return (-3 * at(0) + 4 * at(1) - at(2)) / (2 * g.h);
  if (k == g.n) return (3 * at(g.n) - 4 * at(g.n - 1) + at(g.n - 2)) / (2 * g.h);
  return (at(k + 1) - at(k - 1)) / (2 * g.h);
}

// Laplace v = s on the interior nodes, v = 0 on the boundary (eq. 4 with Dirichlet conditions), by the 5-point
// stencil: the SPD system (-Laplace_h) v = -s.
std::vector<double> solve_dirichlet(const std::vector<double>& s, const Grid& g) {
  const int64_t k = g.n - 1;
  auto unknown = [k](int64_t i, int64_t j) { return (i - 1) * k + (j - 1); };
  const double c = 1.0 / (g.h * g.h);
  std::vector<Eigen::Triplet<double>> entries;
  entries.reserve(static_cast<size_t>(5 * k * k));
  Eigen::VectorXd rhs(k * k);
  for (int64_t i = 1; i < g.n; ++i)
    for (int64_t j = 1; j < g.n; ++j) {
      const int64_t r = unknown(i, j);
      entries.emplace_back(r, r, 4 * c);
      if (i > 1) entries.emplace_back(r, unknown(i - 1, j), -c);
      if (i < g.n - 1) entries.emplace_back(r, unknown(i + 1, j), -c);
      if (j > 1) entries.emplace_back(r, unknown(i, j - 1), -c);
      if (j < g.n - 1) entries.emplace_back(r, unknown(i, j + 1), -c);
      rhs(r) = -s[static_cast<size_t>(g.id(i, j))];
    }
  Eigen::SparseMatrix<double> a(k * k, k * k);
  a.setFromTriplets(entries.begin(), entries.end());
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(a);
  GG_CHECK(solver.info() == Eigen::Success, "poisson_grid_check: the finite-difference Laplacian did not factor");
  const Eigen::VectorXd u = solver.solve(rhs);
  std::vector<double> v(static_cast<size_t>(g.side() * g.side()), 0.0);
  for (int64_t i = 1; i < g.n; ++i)
    for (int64_t j = 1; j < g.n; ++j) v[static_cast<size_t>(g.id(i, j))] = u(unknown(i, j));
  return v;
}

// The boundary nodes with their outward normals and trapezoid weights (h, h/2 at the corners of each edge).
struct Boundary {
  std::vector<int64_t> node;
  std::vector<double> nx, ny, w;
};
Boundary boundary_of(const Grid& g) {
  Boundary b;
  auto add = [&](int64_t i, int64_t j, double nx, double ny, int64_t along) {
    b.node.push_back(g.id(i, j)), b.nx.push_back(nx), b.ny.push_back(ny), b.w.push_back(g.trap(along) * g.h);
  };
  for (int64_t k = 0; k <= g.n; ++k) {
    add(0, k, -1, 0, k);    // x = -L
    add(g.n, k, 1, 0, k);   // x = +L
    add(k, 0, 0, -1, k);    // y = -L
    add(k, g.n, 0, 1, k);   // y = +L
  }
  return b;
}

// Bilinear interpolation of a nodal field at (x, y) in Omega.
double interpolate(const std::vector<double>& f, const Grid& g, double x, double y) {
  auto cell = [&](double c, int64_t* i, double* t) {
    const double u = (c + g.L) / g.h;
    *i = std::clamp<int64_t>(static_cast<int64_t>(std::floor(u)), 0, g.n - 1);
    *t = u - static_cast<double>(*i);
  };
  int64_t i, j;
  double tx, ty;
  cell(x, &i, &tx), cell(y, &j, &ty);
  auto at = [&](int64_t a, int64_t b) { return f[static_cast<size_t>(g.id(a, b))]; };
  return (1 - tx) * (1 - ty) * at(i, j) + tx * (1 - ty) * at(i + 1, j) + (1 - tx) * ty * at(i, j + 1) +
         tx * ty * at(i + 1, j + 1);
}

bool inside(const Grid& g, double x, double y) { return std::abs(x) <= g.L && std::abs(y) <= g.L; }

// n points of the mixture that fall in Omega (rejection), as f64 [n, 2].
Tensor sample_in_domain(const GaussianMixture& density, const Grid& g, int64_t n, uint64_t seed) {
  std::vector<double> kept;
  kept.reserve(static_cast<size_t>(2 * n));
  for (uint64_t round = 0; static_cast<int64_t>(kept.size()) < 2 * n; ++round) {
    GG_CHECK(round < 1000, "poisson_grid_check: the density puts almost no mass on Omega");
    const std::vector<double> d = density.sample(std::max<int64_t>(2 * n, 256), seed * 7919 + round).x.to_vector();
    for (size_t r = 0; r + 1 < d.size() && static_cast<int64_t>(kept.size()) < 2 * n; r += 2)
      if (inside(g, d[r], d[r + 1])) kept.push_back(d[r]), kept.push_back(d[r + 1]);
  }
  return Tensor::from_data(kept, {n, 2}, DType::f64, Device::cpu());
}

double mean_dot(const std::vector<double>& a, const std::vector<double>& b) {
  double total = 0;
  for (size_t k = 0; k < a.size(); ++k) total += a[k] * b[k];
  return total / static_cast<double>(a.size() / 2);
}

}  // namespace

GridCheck poisson_grid_check(const GaussianMixture& density, const SourceFn& source, const GridCheckOptions& o) {
  density.validate();
  GG_CHECK(density.dim() == 2, "poisson_grid_check: the density must be 2-D, got " + std::to_string(density.dim()));
  GG_CHECK(o.n >= 4, "poisson_grid_check: n must be >= 4, got " + std::to_string(o.n));
  GG_CHECK(o.half_width > 0, "poisson_grid_check: half_width must be > 0");
  GG_CHECK(o.samples >= 0 && o.quadrature_points >= 1, "poisson_grid_check: samples must be >= 0, quadrature_points >= 1");
  GG_CHECK(source != nullptr, "poisson_grid_check: no source given");
  NoGradGuard no_grad;
  const Grid g{o.n, o.half_width, 2 * o.half_width / static_cast<double>(o.n)};
  GridCheck out;
  out.n = o.n, out.h = g.h;

  // p, grad p = p grad log p, and s at the nodes; p_Omega = p / Z.
  const Tensor nodes = node_points(g);
  std::vector<double> p = exp(density.log_density(nodes)).to_vector();
  const std::vector<double> score = density.score(nodes).to_vector();
  const std::vector<double> s = source(nodes).to(DType::f64).to_vector();
  GG_CHECK(s.size() == p.size(), "poisson_grid_check: the source must return one value per point");
  out.mass = integrate(p, g);
  for (double& pk : p) pk /= out.mass;

  // Eq. 4 with v = 0 on the boundary, and grad v at the nodes.
  const std::vector<double> v = solve_dirichlet(s, g);
  std::vector<double> vx(v.size()), vy(v.size());
  for (int64_t i = 0; i <= g.n; ++i)
    for (int64_t j = 0; j <= g.n; ++j) {
      vx[static_cast<size_t>(g.id(i, j))] = derivative(v, g, i, j, 0);
      vy[static_cast<size_t>(g.id(i, j))] = derivative(v, g, i, j, 1);
    }

  // R (eq. 11), the coupling integral grad p . grad v (eq. 12-13) and the boundary flux (eq. 12).
  std::vector<double> ps(p.size()), grad_p_dot_grad_v(p.size());
  for (size_t k = 0; k < p.size(); ++k) {
    ps[k] = p[k] * s[k];
    grad_p_dot_grad_v[k] = p[k] * (score[2 * k] * vx[k] + score[2 * k + 1] * vy[k]);  // grad p = p grad log p
  }
  out.source = integrate(ps, g);
  std::vector<double> pps(p.size());
  for (size_t k = 0; k < p.size(); ++k) pps[k] = p[k] * ps[k];
  out.source_density_weighted = integrate(pps, g);
  out.coupling = integrate(grad_p_dot_grad_v, g);
  const Boundary b = boundary_of(g);
  for (size_t k = 0; k < b.node.size(); ++k) {
    const size_t q = static_cast<size_t>(b.node[k]);
    out.flux += b.w[k] * p[q] * (vx[q] * b.nx[k] + vy[q] * b.ny[k]);
  }
  out.residual = out.source - (out.flux - out.coupling);  // Green's first identity (eq. 6)
  for (int64_t i = 0; i <= g.n; ++i)
    for (int64_t j = 0; j <= g.n; ++j) out.node_x.push_back(g.coord(i)), out.node_y.push_back(g.coord(j));
  out.node_p = p, out.node_s = s;
  if (o.samples == 0) return out;

  // ---- Monte-Carlo part -----------------------------------------------------------------------------
  out.samples = o.samples;
  const Tensor xs = sample_in_domain(density, g, o.samples, o.seed);
  const Tensor xq = sample_in_domain(density, g, o.quadrature_points, o.seed + 1);
  const std::vector<double> x = xs.to_vector();
  const std::vector<double> score_x = density.score(xs).to_vector();
  {
    const std::vector<double> sx = source(xs).to(DType::f64).to_vector();
    for (double sk : sx) out.mc_source += sk / static_cast<double>(sx.size());
  }
  Generator gen(o.seed + 2);
  const Corrupted c = corrupt(xs, parse_corruption(o.corruption), gen);
  const std::vector<double> xc = c.x.to_vector();
  const std::vector<double> normal = corruption_normal(c.displacement, o.normal_eps).to_vector();  // eq. 7

  // The Dirichlet potential, extended by zero outside Omega.
  {
    std::vector<double> gx(x.size()), gc(x.size(), 0.0);
    for (size_t k = 0; k < x.size(); k += 2) {
      gx[k] = interpolate(vx, g, x[k], x[k + 1]), gx[k + 1] = interpolate(vy, g, x[k], x[k + 1]);
      if (inside(g, xc[k], xc[k + 1])) {
        gc[k] = interpolate(vx, g, xc[k], xc[k + 1]), gc[k + 1] = interpolate(vy, g, xc[k], xc[k + 1]);
        ++out.proxy_samples;
      }
    }
    out.dirichlet.boundary_flux = out.flux;
    out.dirichlet.coupling = mean_dot(score_x, gx);   // eq. 13 by sampling
    out.dirichlet.flux_proxy = mean_dot(gc, normal);  // eq. 7
    out.dirichlet.coupling_grid = out.coupling;
    out.dirichlet.green_residual = out.residual;
    out.node_v.emplace_back("dirichlet", v);
  }

  std::vector<double> bx, bp;
  for (size_t k = 0; k < b.node.size(); ++k) {
    const int64_t q = b.node[k];
    bx.push_back(g.coord(q / g.side())), bx.push_back(g.coord(q % g.side()));
    bp.push_back(p[static_cast<size_t>(q)]);
  }
  const Tensor boundary_points =
      Tensor::from_data(bx, {static_cast<int64_t>(b.node.size()), 2}, DType::f64, xs.device());
  // |v|^2 and |grad v|^2 of the grid solution at the nodes: the references of the relative errors below.
  std::vector<double> v_squared(p.size()), grad_squared(p.size());
  for (size_t k = 0; k < p.size(); ++k)
    v_squared[k] = v[k] * v[k], grad_squared[k] = vx[k] * vx[k] + vy[k] * vy[k];
  // The integral of f, or of p_Omega f ("on the data").
  auto integral = [&](const std::vector<double>& f, bool on_data) {
    if (!on_data) return integrate(f, g);
    std::vector<double> pf(f.size());
    for (size_t k = 0; k < f.size(); ++k) pf[k] = p[k] * f[k];
    return integrate(pf, g);
  };
  // Every term of one potential, given as x [N, 2] -> (v [N], grad v [N, 2]).
  using PointPotential = std::function<std::pair<Tensor, Tensor>(const Tensor&)>;
  auto measure = [&](const std::string& name, const PointPotential& potential) {
    PotentialTerms t;
    const std::vector<double> gb = potential(boundary_points).second.to_vector();
    for (size_t k = 0; k < b.node.size(); ++k)
      t.boundary_flux += b.w[k] * bp[k] * (gb[2 * k] * b.nx[k] + gb[2 * k + 1] * b.ny[k]);
    t.coupling = mean_dot(score_x, potential(xs).second.to_vector());    // eq. 13
    t.flux_proxy = mean_dot(potential(c.x).second.to_vector(), normal);  // eq. 7
    const auto [v_nodes, g_nodes] = potential(nodes);
    const std::vector<double> vn = v_nodes.to_vector(), gn = g_nodes.to_vector();
    std::vector<double> coupling(p.size()), dv(p.size()), dg(p.size());
    for (size_t k = 0; k < p.size(); ++k) {
      coupling[k] = p[k] * (score[2 * k] * gn[2 * k] + score[2 * k + 1] * gn[2 * k + 1]);
      dv[k] = (vn[k] - v[k]) * (vn[k] - v[k]);
      dg[k] = (gn[2 * k] - vx[k]) * (gn[2 * k] - vx[k]) + (gn[2 * k + 1] - vy[k]) * (gn[2 * k + 1] - vy[k]);
    }
    auto relative = [&](const std::vector<double>& d, const std::vector<double>& r, bool on_data) {
      return std::sqrt(integral(d, on_data) / integral(r, on_data));
    };
    t.coupling_grid = integrate(coupling, g);
    t.green_residual = out.source - (t.boundary_flux - t.coupling_grid);  // eq. 6
    t.v_error = relative(dv, v_squared, false), t.grad_error = relative(dg, grad_squared, false);
    t.v_error_data = relative(dv, v_squared, true), t.grad_error_data = relative(dg, grad_squared, true);
    out.node_v.emplace_back(name, vn);
    return t;
  };

  // The eq. 10 potentials (identity code map, z = x).
  const Tensor s_quad = source(xq).to(DType::f64);
  const Tensor p_quad = exp(density.log_density(xq)) / out.mass;
  auto green = [&](const Tensor& weighted_s) {
    return [&, weighted_s](const Tensor& at) {
      const GreenQuadrature q = green_quadrature(at, xq, weighted_s, o.eps);
      return std::make_pair(q.v, q.grad);
    };
  };
  const Tensor q_weights = inverse_density_weights(xq, o.density_bandwidth);
  out.quadrature = measure("quadrature", green(s_quad));  // eq. 10 as written
  out.weighted =
      measure("weighted", green(s_quad / p_quad));  // eq. 10 importance-weighted: integral_Omega G s
  out.importance = measure("importance", green(s_quad * q_weights));  // the same with p_Omega estimated
  if (!o.ritz) return out;

  // The Ritz potentials (ritz.h) on the same points, sources and weights.
  auto ritz = [&](const std::string& name, RitzProblem problem, const CodeBox& box, RitzReport& report) {
    GradModeGuard enable(true);  // the fit and grad_z v differentiate
    RitzPotential potential(o.ritz_options);
    potential.set_box(box);
    problem.z = xq, problem.s = s_quad;
    if (o.ritz_options.weighted) problem.weight = q_weights;
    report = potential.fit(problem);
    GG_CHECK(!report.diverged, "poisson_grid_check: the " + name + " potential diverged: " + report.reason);
    return measure(name, [&](const Tensor& at) {
      const auto [value, gradient] = potential.value_and_gradient(at, false);
      return std::make_pair(value.detach(), gradient.detach());
    });
  };
  const int64_t corrupted_rows = std::min(o.quadrature_points, c.x.size(0));
  RitzProblem corrupted_boundary;
  corrupted_boundary.z_boundary = slice(c.x, 0, 0, corrupted_rows);
  out.ritz = ritz("ritz", corrupted_boundary, CodeBox{}, out.ritz_fit);
  Generator box_gen(o.seed + 3);
  const CodeBox box = code_box(xq, o.ritz_options.box_margin);
  RitzProblem box_problem{xq, s_quad, q_weights, {}, {}, {}, 0, {}};
  pose_on_box(box_problem, box, o.ritz_options.box_points, o.density_bandwidth, box_gen);
  out.ritz_box = ritz("ritz_box", box_problem, box, out.ritz_box_fit);
  // Omega itself as the box: the grid's own Dirichlet problem, with the smoothed source, then with the exact
  // one.
  const CodeBox omega{{-g.L, -g.L}, {g.L, g.L}};
  RitzProblem omega_problem{xq, s_quad, q_weights, {}, {}, {}, 0, {}};
  pose_on_box(omega_problem, omega, o.ritz_options.box_points, o.density_bandwidth, box_gen);
  out.ritz_omega = ritz("ritz_omega", omega_problem, omega, out.ritz_omega_fit);
  RitzProblem oracle = omega_problem;
  oracle.redraw = [smoothed = omega_problem.redraw, &g, &s](RitzProblem& p) {
    smoothed(p);
    const std::vector<double> y = p.z_interior.to_vector();  // s at the points: bilinear in the nodal s
    std::vector<double> exact;
    for (size_t k = 0; k < y.size(); k += 2) exact.push_back(interpolate(s, g, y[k], y[k + 1]));
    p.interior_source = Tensor::from_data(exact, {p.z_interior.size(0)}, DType::f64, p.z_interior.device());
  };
  oracle.redraw(oracle);
  out.ritz_oracle = ritz("ritz_oracle", oracle, omega, out.ritz_oracle_fit);
  return out;
}

}  // namespace gg
