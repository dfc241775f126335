// The variational (Ritz) estimator of paper 000's potential: instead of the Green quadrature of eq. 10, a
// small network v_theta over codes is fitted to eq. 4 by minimizing its Ritz energy, and the encoder's
// gradient reaches through the fitted theta by implicit differentiation (docs/poisson.md, "The Ritz
// estimator").
//
// THE ENERGY. For landmark codes z_j = f(x_j) with sources s_j = s_phi(x_j) (eq. 3) and weights w_j,
//     E(theta, phi) = (1/M) sum_j w_j [ 1/2 |grad_z v(z_j)|^2 + mu/2 v(z_j)^2 + s_j v(z_j) ]
//                     + beta (1/K) sum_k v(z~_k)^2,          z~_k = f(Pi(x_k)), the corrupted codes
// With w_j = 1 / q(z_j) (inverse_density_weights) the sum is an integral over the codes' support, and its
// Euler-Lagrange equation is -Laplace v + mu v + s = 0, i.e. Laplace v = s + mu v: eq. 4 with the paper's
// sign as mu -> 0 (the usual -Laplace u = f energy has "- f u"; eq. 4 is Laplace v = s, hence "+ s v"). mu >
// 0 makes the minimizer unique where the penalty does not reach. The penalty is eq. 4's homogeneous Dirichlet
// condition (v = 0 on the boundary) imposed on the corrupted codes, which eq. 7 takes as the boundary.
// Unweighted (w_j = 1) it solves div(q grad v) = q (s + mu v) instead, the analogue of eq. 10's p_D
// weighting.
//
// THE BOUNDARY. With "corrupted" (the default) the penalty pins v to 0 at corrupted codes, which for small
// corruptions lie among the landmarks: v is then near 0 on the data and solves eq. 4 nowhere (the grid check
// measures it). "box" puts the boundary on the faces of a box round the codes (code_box) and imposes it
// exactly, with no penalty: v(z) = d(z) N_theta(z), d = prod_k 4 (z_k - lo_k)(hi_k - z_k) / (hi_k - lo_k)^2
// inside the box and 0 outside (a penalty stiff enough to hold v at 0 is too stiff for Adam:
// docs/poisson.md). The energy must then be known between the data and the box too, where there are no
// landmarks, and the source term cannot sit at the landmarks: (1/M) sum_j w_j s_j v(z_j) is a sum of point
// masses, whose energy is unbounded below in m >= 2 dimensions (H^1 functions can be -infinity at a point),
// and v_theta, free between the points, digs a well at each (measured: the fitted energy falls far below the
// grid solution's). So the box energy is the Monte-Carlo integral over the box at points y_l drawn uniformly
// afresh before every inner step, with the source smoothed by the landmarks' kernel (smoothed_source, s~ =
// (1/M) sum_j K_h(. - z_j) w_j s_j):
//     E = V (1/L) sum_l [ 1/2 |grad v(y_l)|^2 + mu/2 v(y_l)^2 + s~(y_l) v(y_l) ]      (the deep Ritz method)
//
// THE IMPLICIT GRADIENT. theta*(phi) = argmin_theta E. For an outer loss L(theta*, phi) (L_Pois, eq. 9),
//     dL/dphi = dL/dphi|_theta - (d^2E / dphi dtheta)^T u,   (H + delta I) u = dL/dtheta,
//     H = d^2E/dtheta^2,
// u by conjugate gradient on Hessian-vector products (double backward of E). implicit_correction returns a
// scalar of value 0 whose phi-gradient is the second term, so L + correction has L's value and the implicit
// gradient; nothing is unrolled through the inner steps.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/gradgrad.h"
#include "models/module.h"

namespace gg {

class Sequential;
class Linear;
class Adam;

struct RitzOptions {
  int64_t hidden = 32;  // width of v_theta's two tanh hidden layers (smooth, so its Hessian exists)
  // "all": every layer of v_theta is fitted. "last": the hidden layers stay at their draw (random features)
  // and only the output layer is fitted, so E is quadratic in theta with a unique minimizer that one Newton
  // step reaches and the implicit function theorem applies exactly; "all" has flat directions (H singular).
  std::string fit_layers = "all";
  int64_t steps = 5;          // inner Adam steps per training step, warm-started from the previous theta
  int64_t first_steps = 200;  // inner steps when theta is new (the first step, or after a divergence)
  double lr = 1e-2;           // the inner Adam's learning rate
  int64_t newton_steps = 0;  // Newton steps after the Adam steps (CG on H + delta I): a converged inner solve
  double mu = 1e-2;          // mu of the energy, > 0
  // beta of the penalty, >= 0 (0: no boundary condition). On the grid check 10 left v far from 0 on the
  // boundary and 1000 was too stiff for Adam (docs/poisson.md).
  double dirichlet = 100;
  // Where v = 0 is imposed: "corrupted", by the penalty at the corrupted codes f(Pi(x)) that eq. 7 takes as
  // the boundary (the paper's reading, and its public code's); or "box", exactly, on the quadrature codes'
  // bounding box widened by box_margin of its extent on each side: a boundary round the data, as the grid's.
  std::string boundary = "corrupted";
  double box_margin = 0.25;
  int64_t box_points = 512;  // "box": points drawn uniformly in the box per inner step, where the energy sits
                             // (the box needs weighted: its smoothed source is a density of s)
  bool weighted = true;      // w_j = 1 / q(z_j) (the energy over the codes' support) or 1 (over p_D)
  int64_t cg_iterations = 20;  // most conjugate-gradient iterations for u
  double cg_tolerance = 1e-4;  // stop when |r| <= tolerance |dL/dtheta|
  double damping = 1e-3;       // delta: H + delta I keeps u finite where H is singular (flat directions)
  double divergence = 1e8;     // an inner energy or gradient beyond this (or not finite) is a divergence
  uint64_t seed = 0;           // theta's initialization
};
// Throws an Error naming "<path>.<key>" unless every value is valid.
void validate(const RitzOptions& o, const std::string& path = "ritz");
void to_json(nlohmann::json& j, const RitzOptions& o);
void from_json(const nlohmann::json& j, RitzOptions& o);

// The landmarks of one energy. Every tensor may carry phi's history (for implicit_correction) or none.
struct RitzProblem {
  Tensor z;           // z_j = f(x_j): [M, m]
  Tensor s;           // s_phi(x_j): [M]
  Tensor weight;      // w_j: [M], undefined for 1
  Tensor z_boundary;  // where v = 0: [K, m], undefined for no Dirichlet penalty
  // A box (pose_on_box): points y_l [L, m] uniform in it, of volume V, and the smoothed source at them [L].
  // Undefined: the energy sits at the landmarks (above).
  Tensor z_interior, interior_source;
  double interior_volume = 0;
  // Draws the y_l and their weights afresh (pose_on_box): fit calls it before every inner step, so that
  // v_theta cannot dig wells at fixed points that no |grad v|^2 term sees. Empty: the points stay.
  std::function<void(RitzProblem&)> redraw;
  RitzProblem detached() const;
};

// What one training step's inner solve and implicit gradient did (for the metrics and the log).
struct RitzReport {
  int64_t steps = 0;          // inner Adam steps taken
  double energy = 0;          // E before the last inner step
  double gradient_norm = 0;   // |dE/dtheta| there
  int64_t cg_iterations = 0;  // conjugate-gradient iterations for u
  double cg_residual = 0;     // |r| / |dL/dtheta| at the end (0 when dL/dtheta = 0)
  bool cg_converged = false;  // cg_residual <= cg_tolerance
  bool diverged = false;      // the inner solve or u was not finite or beyond options.divergence
  std::string reason;         // what diverged, for the message
};

// The bounding box of codes z [N, m] (detached), widened by margin times its extent on each side (an extent
// of 0 counts as 1): the domain of the "box" boundary.
struct CodeBox {
  std::vector<double> lo, hi;
  double volume() const;
  // `count` points uniformly in it, of `like`'s dtype and device; deterministic in gen.
  Tensor interior(int64_t count, Generator& gen, const Tensor& like) const;
};
CodeBox code_box(const Tensor& z, double margin);

// v_theta: R^m -> R, Linear(m, h) - tanh - Linear(h, h) - tanh - Linear(h, 1), with its inner optimizer.
// Built on first use with the codes' dimension and dtype; kept across training steps so each solve starts
// from the last.
class RitzPotential {
 public:
  explicit RitzPotential(RitzOptions options = {});
  ~RitzPotential();
  RitzPotential(const RitzPotential&) = delete;
  RitzPotential& operator=(const RitzPotential&) = delete;

  const RitzOptions& options() const { return options_; }
  // Builds theta for codes [N, m] of z's dtype unless it is built for them already.
  void prepare(const Tensor& z);
  // Draws theta afresh from options.seed and clears the optimizer (after a divergence).
  void reset();
  bool fresh() const { return fresh_; }
  // theta: the fitted parameters (all of v_theta's, or the output layer's).
  std::vector<Tensor> parameters() const;

  // Imposes v = 0 on the faces of `box` (and outside it) exactly, by the envelope d above; a box of no
  // coordinates (the default) imposes nothing.
  void set_box(CodeBox box) { box_ = std::move(box); }
  // v(z): [N].
  Tensor value(const Tensor& z);
  // (v(z) [N], grad_z v(z) [N, m]). With create_graph both are differentiable in theta and in z's history.
  std::pair<Tensor, Tensor> value_and_gradient(const Tensor& z, bool create_graph);

  // Inner solve: `steps` Adam steps on E(., problem) (give it a detached problem), fresh theta first_steps
  // instead, then options.newton_steps Newton steps. A divergence resets theta and is reported, not thrown.
  RitzReport fit(const RitzProblem& problem, int64_t steps = -1);
  // Newton steps theta <- theta - (H + delta I)^-1 dE/dtheta (conjugate gradient), for a fully converged
  // inner solve; returns |dE/dtheta| after the last. Exact in one step when fit_layers is "last".
  double newton(const RitzProblem& problem, int64_t steps, double damping);

  // Everything a later fit starts from: theta (every layer), the inner Adam's buffers and steps, and whether
  // theta is fresh, as named tensors for a checkpoint (none before theta is built). load_state takes them
  // back; a name or shape that does not fit is an error naming it.
  NamedTensors save_state() const;
  void load_state(const NamedTensors& state);

  int64_t solves() const { return solves_; }
  int64_t skipped() const { return skipped_; }
  void count_skip() { ++skipped_; }

 private:
  RitzOptions options_;
  std::shared_ptr<Sequential> net_;
  std::shared_ptr<Linear> output_;  // the output layer, the only one fitted when fit_layers is "last"
  CodeBox box_;
  std::unique_ptr<Adam> optimizer_;
  int64_t code_dim_ = -1;
  DType dtype_ = DType::f32;
  bool fresh_ = true;
  int64_t solves_ = 0, skipped_ = 0;
};

// Poses the problem (its landmarks z, sources s and weights w set) on `box`: interior_points y_l uniform in
// it with the smoothed source s~ there (density_bandwidth: smoothed_source's h), and a redraw of both for
// fit.
void pose_on_box(RitzProblem& problem, const CodeBox& box, int64_t interior_points, double density_bandwidth,
                 Generator& gen);

// E(theta, phi) above: a scalar, differentiable in theta and in the problem's history.
Tensor ritz_energy(RitzPotential& potential, const RitzProblem& problem);

// u with (H + delta I) u = rhs, H the Hessian of E(., problem) in theta at the current theta (the problem is
// taken detached), by at most options.cg_iterations conjugate-gradient iterations. Fills the report's cg
// fields.
std::vector<Tensor> solve_hessian(RitzPotential& potential, const RitzProblem& problem,
                                  const std::vector<Tensor>& rhs, double damping, RitzReport& report);

// A scalar of value 0 whose gradient in phi is -(d^2E / dphi dtheta)^T u (the problem carries phi's history).
Tensor implicit_correction(RitzPotential& potential, const RitzProblem& problem,
                           const std::vector<Tensor>& u);

}  // namespace gg
