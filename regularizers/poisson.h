// The Poisson-potential regularizer of paper 000 ("Poisson-induced potentials for contractive
// representations"), sections 3.1-3.5, one function per quantity; each names its equation number.
//
//   s_phi(x)  = ||J_f(x)||_F^2                                   eq. 3   contractive_source (contractive.h)
//   Laplace v = s_phi                                             eq. 4
//   v(z)      = integral G(z, y) s(y) dy                          eq. 5   green_function
//   R_CAE     = flux - coupling (Green's first identity)         eq. 6-7, 11-13   (checked on a grid:
//                                                                         poisson_grid.h)
//   flux      ~ E[grad v(Pi(x)) . n(x)],  n = (Pi(x) - x) / (||Pi(x) - x|| + eps)   eq. 7  corruption_normal,
//                                                                                         boundary_flux
//   coupling  = E[grad log p_D(x) . grad v(x)]                   eq. 13  score_coupling (score.h for scores)
//   L_Pois    = flux - coupling                                   eq. 9   poisson_regularizer
//   objective = L_rec + lambda L_Pois                             eq. 8   poisson_objective (L_rec: eq. 2)
//   v(z_i)    ~ (1/M) sum_j G_eps(z_i, z_j) s(x_j), grad likewise eq. 10  green_quadrature, poisson_potential
//             ~ (1/M) sum_j G_eps(z_i, z_j) s(x_j) / q(z_j)   eq. 10, weighted: inverse_density_weights
//             ~ v_theta*(z), theta* = argmin of eq. 4's Ritz energy         the Ritz estimator: ritz.h
//
// SIGN CONVENTION. The paper writes Laplace v = s (eq. 4). The free-space fundamental solution Phi of the
// Laplacian in R^m solves -Laplace Phi = delta:
//     Phi(r) = -|r| / 2                                  m = 1
//     Phi(r) = -(1 / 2 pi) log r                         m = 2
//     Phi(r) = r^(2-m) / ((m - 2) |S^(m-1)|)             m >= 3,   |S^(m-1)| = 2 pi^(m/2) / Gamma(m/2).
// This file's Green function is G = -Phi, which solves Laplace G = delta, so v = integral G s solves
// Laplace v = s with the paper's sign. Its gradient is the same expression for every m:
//     grad_z G(z, y) = (z - y) / (|S^(m-1)| r^m),        the flux of grad G out of any sphere round y is 1.
// The singularity is regularized by r_eps = sqrt(r^2 + eps^2) in place of r (G_eps of eq. 10); eps = 0 gives
// the exact kernel (then z and y must differ).
//
// WHERE v LIVES. Eq. 4 is stated in input space, but eq. 10 evaluates G in code space (z = f(x) in R^m): v is
// a potential over codes, and grad_z v is an m-vector. Eq. 7 and eq. 9 dot grad v with input-space vectors
// (the normal n(x) and the score grad log p_D(x), both in R^d). The regularizer therefore uses the gradient
// of x -> v(f(x)), by the chain rule:
//     grad_x v(f(x)) = J_f(x)^T grad_z v(f(x)),
// computed as one vector-Jacobian product through the engine with create_graph, so it stays differentiable
// with respect to phi. This is what makes eq. 7 and eq. 9 dimensionally consistent when m != d.
// PoissonOptions::gradient = "code" dots grad_z v directly instead (allowed only when m == d). Both
// gradients are returned.
//
// WHAT EQ. 10 INTEGRATES. With quadrature points x_j drawn from a distribution q (the corrupted batch by
// default), (1/M) sum_j G(z, z_j) s(x_j) estimates E_q[G(z, f(x)) s(x)]: the potential of the source s
// weighted by the density of the quadrature points (pushed to code space), not of s alone. This is the
// paper's estimator (estimator "paper") and is implemented as written; docs/poisson.md discusses it and
// measures the difference on a grid (poisson_grid.h). Estimator "importance" divides each s_j by a kernel
// density estimate of q at z_j, so that the sum estimates the potential of s itself. Estimator "ritz" fits a
// network v_theta to eq. 4 instead (ritz.h) and differentiates through the fit implicitly.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "regularizers/contractive.h"
#include "regularizers/ritz.h"
#include "regularizers/score.h"

namespace gg {

// ---- Options ------------------------------------------------------------------------------------------
// How the Poisson step computes s_phi by default: PenaltyOptions' own (method auto), except that auto takes
// one Hutchinson probe wherever the code is wider than 8 and the probe is cheaper (auto_max_width 8, where
// the contractive penalty's is 64). Eq. 10 is a Monte-Carlo sum already, and over 16 paired draws one probe
// added 0.4-5% of its own draw-to-draw gradient variance on five MNIST models with 8- to 32-wide codes, but
// 180% on two moons' 2-wide codes (`gradgrad visualize --gradient-noise`, docs/poisson.md). A config's
// "source" object overrides these key by key.
constexpr int64_t kPoissonSourceAutoMaxWidth = 8;
inline PenaltyOptions poisson_source_defaults() {
  PenaltyOptions p;
  p.auto_max_width = kPoissonSourceAutoMaxWidth;
  return p;
}

struct PoissonOptions {
  double lambda = 0.1;                   // weight of L_Pois in the objective (eq. 8), >= 0
  double eps = 1e-2;                     // Green-function regularization r_eps = sqrt(r^2 + eps^2) (eq. 10), >= 0
  int64_t quadrature_points = 256;       // M (eq. 10), >= 1; a smaller batch uses all of its samples
  std::string corruption = "noise:0.1";  // Pi (eq. 7): a datasets/corruption.h spec
  double normal_eps = 1e-2;              // eps of n(x) (eq. 7), >= 0 (the paper uses one eps for both)
  std::string quadrature = "corrupted";  // where the M quadrature points x_j are drawn: "corrupted" or "clean" batch
  std::string gradient = "input";        // "input": grad_x v(f(x)) = J^T grad_z v; "code": grad_z v (needs m == d)
  std::string score = "kde";             // built-in score when the caller passes none: "kde" (of the clean
                                         // batch, bandwidth kde_bandwidth) or "none" (no coupling term)
  double kde_bandwidth = 0.2;            // > 0
  std::string reconstruction = "corrupted";  // eq. 2: reconstruct x from g(f(Pi(x))) ("corrupted") or from x ("clean")
  PenaltyOptions source = poisson_source_defaults();  // how s_phi is computed (eq. 3); source.create_graph =
                                                      // false makes every term a plain value (visualization)
  std::string estimator = "paper";       // the potential: "paper" (eq. 10 as written: the potential of q s, q
                                         // the quadrature codes' density), "importance" (each s_j weighted by
                                         // 1 / q(z_j), estimated by inverse_density_weights: the potential of
                                         // s) or "ritz" (v_theta fitted to eq. 4, implicit gradient: ritz.h)
  double density_bandwidth = 0;          // "importance" and weighted "ritz": the kernel density's bandwidth h
                                         // in code space, >= 0 (0: chosen from the quadrature codes)
  RitzOptions ritz;                      // "ritz": the network, its inner solve and the implicit gradient
};

// Throws an Error naming the key ("regularizer.<key>") unless every value is valid.
void validate(const PoissonOptions& o);
// {"kind": "poisson", "lambda", "eps", "quadrature_points", "corruption", "normal_eps", "quadrature",
//  "gradient", "score", "kde_bandwidth", "reconstruction", "source": {"method", "probes", "probe_kind",
//  "create_graph"}, "estimator", "density_bandwidth", "ritz": {RitzOptions}}
void to_json(nlohmann::json& j, const PoissonOptions& o);
// The inverse; every key is optional ("kind", when present, must be "poisson"). An unknown key, a value of
// the wrong type or an invalid value is an Error naming the key.
void from_json(const nlohmann::json& j, PoissonOptions& o);

// ---- Green's function of the Laplacian (eq. 5, regularized as in eq. 10) -------------------------------
// |S^(m-1)| = 2 pi^(m/2) / Gamma(m/2), the area of the unit sphere in R^m (|S^0| = 2, |S^1| = 2 pi).
double unit_sphere_area(int64_t m);
// log |S^(m-1)|, finite for every m (|S^(m-1)| itself leaves f32 above m = 100 and f64 above m = 340).
double log_unit_sphere_area(int64_t m);
// The smallest eps at which grad G_eps's radial factor at r = 0, g1(eps^2) = 1 / (|S^(m-1)| eps^m), is finite
// in `dtype`. Below it, two codes nearer than eps (a sample and its corrupted copy, say) overflow: about 0.08
// for m = 32 and 1.4 for m = 128 in f32. The Poisson regularizer refuses an eps below it (regularizer.eps).
double smallest_kernel_eps(int64_t m, DType dtype);
// The eps used where no config names one (bench rows, visualize on a run without a Poisson term): the default
// 1e-2, made for 2-D codes, or twice smallest_kernel_eps where that is larger (0.17 for m = 32 in f32).
double default_kernel_eps(int64_t m, DType dtype);
// G_eps(z_i, z_j) = -Phi(r_eps), r_eps = sqrt(||z_i - z_j||^2 + eps^2): [N, M] for zi [N, m], zj [M, m]
// (same dtype). Laplace_z G = delta when eps = 0. Differentiable in both arguments.
Tensor green_function(const Tensor& zi, const Tensor& zj, double eps = 1e-2);
// grad_{z_i} G_eps(z_i, z_j) = (z_i - z_j) / (|S^(m-1)| r_eps^m): [N, M, m]. Differentiable in both arguments.
Tensor green_gradient(const Tensor& zi, const Tensor& zj, double eps = 1e-2);

// ---- Importance weights for eq. 10 -------------------------------------------------------------------
// w_j = 1 / q(z_j) for codes z [M, m], q the Gaussian kernel density estimate of the codes themselves,
//     q(z) = (1/M) sum_k N(z; z_k, h^2 I),
// with bandwidth h (0: chosen from the codes, the largest leave-one-out likelihood among Scott's rule
// h = sigma M^(-1/(m+4)) times 2^(-i/2), i = 0..8; Scott's rule alone oversmooths multimodal codes), computed in
// log space: [M] in z's dtype, differentiable in z for the chosen h (so the estimator is one smooth function of
// the encoder, gradient-checked as such). (1/M) sum_j G(z, z_j) s_j w_j estimates integral G s over the codes'
// support, the potential of s, where eq. 10 as written estimates integral G s q, the potential of q s
// (docs/poisson.md, grid check). Errors name the key: codes with no spread and h = 0, or weights beyond z's dtype.
Tensor inverse_density_weights(const Tensor& z, double bandwidth);
// (1/M) sum_j K_h(at_i - z_j) weighted_s_j for points at [N, m]: with weighted_s_j = s_j / q(z_j), a smooth
// density of the source s over the codes' support (integral s~ v ~ integral s v), where the sum of point
// masses (1/M) sum_j w_j s_j delta_{z_j} is not a function (the Ritz estimator's box energy needs one:
// ritz.h). Same kernel and bandwidth rule as inverse_density_weights; differentiable in z and weighted_s.
// [N].
Tensor smoothed_source(const Tensor& at, const Tensor& z, const Tensor& weighted_s, double bandwidth);
// The bandwidth h those functions use for codes z: `bandwidth` when > 0, else the one chosen from z.
double density_bandwidth(const Tensor& z, double bandwidth);

// ---- Monte-Carlo quadrature of the Green representation (eq. 10) --------------------------------------
struct GreenQuadrature {
  Tensor v;     // v(z_i) ~ (1/M) sum_j G_eps(z_i, z_j) s_j:           [N] (undefined without with_value)
  Tensor grad;  // grad_z v(z_i) ~ (1/M) sum_j grad G_eps(z_i, z_j) s_j: [N, m]
};
// Eq. 10 for evaluation codes z_eval [N, m], quadrature codes z_quad [M, m] and sources s_quad [M];
// differentiable in all three, to every order. On the CPU one fused pass over the pairs, with a fused
// backward (green_quadrature.cpp), keeping no [N, M] intermediate; elsewhere composed of ordinary ops.
// Without `with_value`, v is left undefined and not computed (training reads grad v only; for m = 2, v's
// logarithm was the costliest part of the pass).
//
// SELF PAIRS. Where an evaluation code and a quadrature code are one sample (the corrupted batch evaluated
// against quadrature points drawn from it), the pair's term of grad v, (z_i - z_j) g1, is identically zero:
// z_i and z_j are the same function of the parameters. Computed, it is 0 times g1(eps^2) = 1 / (|S^(m-1)|
// eps^m), which is 7,000 for m = 32 and eps = 1 and overflows f32 at eps = 0.01; and where the two codes were
// computed apart, their rounding difference times that factor outweighed every other pair (the MNIST
// Poisson run's flux was that noise). `self_pair[i] = j` names such a pair (-1: none; empty: no pairs), and
// its term is left out of grad v and out of every derivative of it, which is eq. 10 exactly. v keeps the
// pair's G_eps(0) s_j / M, as written, taken at r = 0 whatever the two codes' rounding.
GreenQuadrature green_quadrature(const Tensor& z_eval, const Tensor& z_quad, const Tensor& s_quad, double eps,
                                 bool with_value = true, const std::vector<int64_t>& self_pair = {});

// The M quadrature points of eq. 10: rows of a batch, their codes and their sources.
struct PoissonQuadrature {
  std::vector<int64_t> rows;  // which rows of the batch (drawn without replacement; all rows when B <= M)
  Tensor x;                   // those samples (data, no history)
  Tensor z;                   // z_j = f(x_j): [M, m]
  Tensor s;                   // s_phi(x_j) (eq. 3): [M], differentiable with respect to phi
  Tensor weight;              // what eq. 10 multiplies s_j by: undefined for "paper" (1), 1 / q(z_j) for
                              // "importance" (inverse_density_weights, differentiable like z); for "ritz" the
                              // energy's w_j (undefined unless ritz.weighted)
  Tensor weighted_s() const { return weight.defined() ? s * weight : s; }
  Tensor x_leaf;         // x as the leaf the source's Jacobian was taken against
  Tensor jacobian_rows;  // J_f(x_j)^T e_c for every code unit c, [m, M, ...x], where the source computed them
                         // (exact by reverse: contractive.h); undefined otherwise
};
// Draws min(M, B) rows of `batch` with `gen` and computes their codes and sources with contractive_source,
// and their weights when options.estimator is "importance".
PoissonQuadrature poisson_quadrature(Autoencoder& model, const Tensor& batch, const PoissonOptions& options,
                                     Generator& gen);
// The self pairs (green_quadrature) of the batch the quadrature rows were drawn from: entry b is j where
// rows[j] = b, else -1.
std::vector<int64_t> self_pairs(const PoissonQuadrature& quadrature, int64_t batch_rows);

// v and grad v at evaluation samples (eq. 10 plus the chain rule above).
struct PoissonPotential {
  Tensor x;       // the evaluation samples, as the leaf the input gradient is taken against
  Tensor z;       // f(x): [N, m]
  Tensor v;       // v(f(x)) (eq. 10): [N]; undefined where the regularizer computed no values
  Tensor grad_z;  // grad_z v at f(x) (eq. 10): [N, m]
  Tensor grad_x;  // grad_x v(f(x)) = J_f(x)^T grad_z v: x's shape
};
// Differentiable with respect to phi when options.source.create_graph (the default). `self_pair` names the
// evaluation samples that are quadrature points (green_quadrature; self_pairs above when x_eval is the batch
// the quadrature was drawn from).
PoissonPotential poisson_potential(Autoencoder& model, const Tensor& x_eval,
                                   const PoissonQuadrature& quadrature, const PoissonOptions& options,
                                   const std::vector<int64_t>& self_pair = {});
// The same for any potential over codes: `potential` maps codes [N, m] and their self pairs to v [N] and
// grad_z v [N, m] (a fitted potential, smooth at every pair, ignores the pairs).
using CodePotential =
    std::function<std::pair<Tensor, Tensor>(const Tensor& z, const std::vector<int64_t>& self_pair)>;
PoissonPotential poisson_potential(Autoencoder& model, const Tensor& x_eval, const CodePotential& potential,
                                   bool create_graph, const std::vector<int64_t>& self_pair = {});

// ---- The terms of L_Pois (eq. 7, 9, 13) ---------------------------------------------------------------
// n(x) = (Pi(x) - x) / (||Pi(x) - x|| + eps) per sample (eq. 7), from the corruption's displacement
// Pi(x) - x [B, ...]: same shape, no history.
Tensor corruption_normal(const Tensor& displacement, double eps);
// The corruption proxy of the boundary flux (eq. 7): mean_b <grad v(Pi(x_b)), n(x_b)>, a scalar.
Tensor boundary_flux(const Tensor& grad_v_corrupted, const Tensor& normal);
// The score-potential coupling (eq. 13): mean_b <grad log p_D(x_b), grad v(x_b)>, a scalar.
Tensor score_coupling(const Tensor& score, const Tensor& grad_v);

// Every term of the regularizer for one batch, for the loss and for the visualization.
struct PoissonTerms {
  Tensor x_corrupted;          // Pi(x): x's shape
  Tensor normal;               // n(x) (eq. 7): x's shape
  Tensor score;                // grad log p_D(x) at the clean batch (a constant): x's shape (zeros for "none")
  PoissonQuadrature quadrature;  // z_j and s_phi(x_j) (eq. 3, 10)
  Tensor source_mean;          // (1/M) sum_j s_phi(x_j): R_CAE (eq. 3) on the quadrature points, a scalar
  PoissonPotential clean;      // v, grad_z v, grad_x v at x
  PoissonPotential corrupted;  // the same at Pi(x)
  Tensor grad_norm_clean;      // ||grad v(x)|| in the space the terms use (options.gradient): [B]
  Tensor grad_norm_corrupted;  // ||grad v(Pi(x))||: [B]
  Tensor flux;                 // eq. 7, a scalar
  Tensor coupling;             // eq. 13, a scalar
  Tensor loss;                 // L_Pois = flux - coupling (eq. 9), a scalar; for "ritz" its gradient is the
                               // implicit one (ritz.h), and 0 without gradient when the inner solve diverged
  RitzReport ritz;             // "ritz": what the inner solve and the conjugate gradient did
};

// L_Pois (eq. 9) of a batch x [B, input_shape...] for the encoder of `model`. `gen` draws the corruption,
// the quadrature rows and any Hutchinson probes, so a seed fixes the result. `score` overrides
// options.score when given. The result is differentiable with respect to every encoder parameter, through
// the codes, the chain-rule Jacobian and the source s_phi (unless options.source.create_graph is false).
// Estimator "ritz" fits `ritz` (warm-started; a fresh potential when none is given) and counts a divergence
// in it. Without `values`, eq. 10's v is not computed (clean.v and corrupted.v are undefined): L_Pois reads
// grad v only, so training asks for none.
PoissonTerms poisson_regularizer(Autoencoder& model, const Tensor& x, const PoissonOptions& options,
                                 Generator& gen, const ScoreFn& score = {}, RitzPotential* ritz = nullptr,
                                 bool values = true);

struct PoissonObjective {
  Tensor total;           // L_rec + lambda L_Pois (eq. 8)
  Tensor reconstruction;  // L_rec (eq. 2): mean squared error, from Pi(x) or x per options.reconstruction
  Tensor regularizer;     // lambda L_Pois
  PoissonTerms terms;
};
// The full objective (eq. 8) for one batch; the reconstruction reuses the regularizer's corrupted batch. A
// training objective: its terms carry no v (poisson_regularizer without values).
PoissonObjective poisson_objective(Autoencoder& model, const Tensor& x, const PoissonOptions& options,
                                   Generator& gen, const ScoreFn& score = {}, RitzPotential* ritz = nullptr);

}  // namespace gg
