#include "regularizers/ritz.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <sstream>

#include "models/config_reader.h"
#include "models/layers.h"
#include "models/optim.h"
#include "regularizers/poisson.h"

namespace gg {

// ---- Options ------------------------------------------------------------------------------------------

void validate(const RitzOptions& o, const std::string& path) {
  auto positive_int = [&](const char* key, int64_t v) {
    GG_CHECK(v >= 1, path + "." + key + ": must be an integer >= 1, got " + std::to_string(v));
  };
  auto number = [&](const char* key, double v, bool zero_ok) {
    GG_CHECK(std::isfinite(v) && (zero_ok ? v >= 0 : v > 0), path + "." + key + ": must be a finite number " +
                                                                 (zero_ok ? ">= 0" : "> 0") + ", got " +
                                                                 number_text(v));
  };
  positive_int("hidden", o.hidden);
  GG_CHECK(o.fit_layers == "all" || o.fit_layers == "last",
           path + ".fit_layers: must be \"all\" or \"last\", got \"" + o.fit_layers + "\"");
  GG_CHECK(o.steps >= 0, path + ".steps: must be an integer >= 0, got " + std::to_string(o.steps));
  positive_int("first_steps", o.first_steps);
  number("lr", o.lr, false);
  GG_CHECK(o.newton_steps >= 0,
           path + ".newton_steps: must be an integer >= 0, got " + std::to_string(o.newton_steps));
  number("mu", o.mu, false);
  number("dirichlet", o.dirichlet, true);
  positive_int("cg_iterations", o.cg_iterations);
  number("cg_tolerance", o.cg_tolerance, false);
  number("damping", o.damping, true);
  GG_CHECK(o.boundary == "corrupted" || o.boundary == "box",
           path + ".boundary: must be \"corrupted\" or \"box\", got \"" + o.boundary + "\"");
  number("box_margin", o.box_margin, true);
  positive_int("box_points", o.box_points);
  GG_CHECK(o.boundary != "box" || o.weighted,
           path + ".weighted: the box boundary integrates the energy over the box, which needs the weights");
  number("divergence", o.divergence, false);
}

GG_CONFIG_FIELDS(RitzOptions, hidden, fit_layers, steps, first_steps, lr, newton_steps, mu, dirichlet,
                 boundary, box_margin, box_points, weighted, cg_iterations, cg_tolerance, damping, divergence,
                 seed)

void to_json(nlohmann::json& j, const RitzOptions& o) { write_fields(j, o); }

void from_json(const nlohmann::json& j, RitzOptions& out) {
  ConfigReader r(j, "ritz");
  RitzOptions o;
  read_fields(r, o);
  r.done();
  validate(o, r.path());
  out = o;
}

RitzProblem RitzProblem::detached() const {
  // A redraw reads the problem it is handed, so the copy's draws come from the detached tensors.
  RitzProblem out = *this;
  for (Tensor* t : {&out.z, &out.s, &out.weight, &out.z_boundary, &out.z_interior, &out.interior_source})
    if (t->defined()) *t = t->detach();
  return out;
}

// ---- The potential network ------------------------------------------------------------------------------

namespace {

// sum_i <a_i, b_i> over lists of tensors, as a double.
double dot(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  NoGradGuard no_grad;
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i) total += sum(a[i] * b[i]).item();
  return total;
}

// a_i + c b_i for each i, without history.
std::vector<Tensor> axpy(const std::vector<Tensor>& a, double c, const std::vector<Tensor>& b) {
  NoGradGuard no_grad;
  std::vector<Tensor> out;
  for (size_t i = 0; i < a.size(); ++i) out.push_back(a[i] + b[i] * c);
  return out;
}

}  // namespace

RitzPotential::RitzPotential(RitzOptions options) : options_(std::move(options)) { validate(options_); }
RitzPotential::~RitzPotential() = default;

void RitzPotential::prepare(const Tensor& z) {
  GG_CHECK(
      z.defined() && z.dim() == 2 && z.size(1) >= 1,
      "ritz: expected codes [N, m], got " + (z.defined() ? shape_str(z.shape()) : std::string("undefined")));
  if (net_ && z.size(1) == code_dim_ && z.dtype() == dtype_) return;
  code_dim_ = z.size(1);
  dtype_ = z.dtype();
  reset();
}

void RitzPotential::reset() {
  GG_CHECK(code_dim_ >= 1, "ritz: the potential is reset before it has seen codes");
  Generator gen(options_.seed);
  LayerOptions layer;
  layer.dtype = dtype_;
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Linear>(code_dim_, options_.hidden, gen, layer));
  net->add(std::make_shared<Activation>("tanh"));
  net->add(std::make_shared<Linear>(options_.hidden, options_.hidden, gen, layer));
  net->add(std::make_shared<Activation>("tanh"));
  output_ = std::make_shared<Linear>(options_.hidden, 1, gen, layer);
  net->add(output_);
  net_ = net;
  Adam::Options adam;
  adam.lr = options_.lr;
  optimizer_ = std::make_unique<Adam>(parameters(), adam);
  fresh_ = true;
}

NamedTensors RitzPotential::save_state() const {
  NamedTensors out;
  if (!net_) return out;
  for (const auto& [name, p] : net_->named_parameters())
    out.emplace_back("theta." + name, p.detach().clone());
  for (const auto& [kind, buffers] : optimizer_->state())
    for (size_t i = 0; i < buffers.size(); ++i)
      out.emplace_back("adam." + kind + "." + std::to_string(i), buffers[i]);
  // Counters as one f64 tensor: code dimension, inner Adam steps, fresh, solves, skipped.
  out.emplace_back("counters",
                   Tensor::from_data(
                       std::vector<double>{static_cast<double>(code_dim_),
                                           static_cast<double>(optimizer_->steps_taken()), fresh_ ? 1.0 : 0.0,
                                           static_cast<double>(solves_), static_cast<double>(skipped_)},
                       {5}, DType::f64));
  return out;
}

void RitzPotential::load_state(const NamedTensors& state) {
  if (state.empty()) return;  // saved before theta was built: a fresh start, as then
  auto find = [&](const std::string& name) -> const Tensor& {
    for (const auto& [n, t] : state)
      if (n == name) return t;
    fail("ritz: the saved state has no tensor '" + name + "'");
  };
  const std::vector<double> counters = find("counters").to(DType::f64).to_vector();
  GG_CHECK(counters.size() == 5,
           "ritz: the saved 'counters' must hold 5 numbers, got " + std::to_string(counters.size()));
  code_dim_ = static_cast<int64_t>(counters[0]);
  dtype_ = find("theta.0.weight").dtype();
  reset();
  NoGradGuard no_grad;
  for (const auto& [name, p] : net_->named_parameters()) {
    const Tensor& saved = find("theta." + name);
    GG_CHECK(saved.shape() == p.shape(), "ritz: the saved 'theta." + name + "' is " +
                                             shape_str(saved.shape()) + ", the potential's " +
                                             shape_str(p.shape()));
    Tensor param = p;
    param.copy_(saved.to(p.dtype()));
  }
  std::vector<std::pair<std::string, std::vector<Tensor>>> buffers;
  for (const auto& [kind, mine] : optimizer_->state()) {
    std::vector<Tensor> loaded;
    for (size_t i = 0; i < mine.size(); ++i) loaded.push_back(find("adam." + kind + "." + std::to_string(i)));
    buffers.emplace_back(kind, loaded);
  }
  optimizer_->load_state(buffers, static_cast<int64_t>(counters[1]));
  fresh_ = counters[2] != 0;
  solves_ = static_cast<int64_t>(counters[3]);
  skipped_ = static_cast<int64_t>(counters[4]);
}

std::vector<Tensor> RitzPotential::parameters() const {
  GG_CHECK(net_ != nullptr, "ritz: the potential has no parameters before it has seen codes");
  return options_.fit_layers == "last" ? output_->parameters() : net_->parameters();
}

Tensor RitzPotential::value(const Tensor& z) {
  prepare(z);
  Tensor v = reshape((*net_)(z), {z.size(0)});
  if (box_.lo.empty()) return v;
  GG_CHECK(
      static_cast<int64_t>(box_.lo.size()) == z.size(1),
      "ritz: a box of " + std::to_string(box_.lo.size()) + " coordinates for codes " + shape_str(z.shape()));
  for (size_t k = 0; k < box_.lo.size(); ++k) {  // v = 0 on the box's faces and outside: the envelope d
    const double lo = box_.lo[k], hi = box_.hi[k];
    const Tensor zk = reshape(slice(z, 1, int64_t(k), int64_t(k) + 1), {z.size(0)});
    v = v * clamp((zk - lo) * (hi - zk) * (4.0 / ((hi - lo) * (hi - lo))), 0.0, INFINITY);
  }
  return v;
}

std::pair<Tensor, Tensor> RitzPotential::value_and_gradient(const Tensor& z, bool create_graph) {
  prepare(z);
  // grad_z needs z in the graph: codes without history become a leaf of their own.
  const Tensor at = z.requires_grad() ? z : z.detach().requires_grad_();
  const Tensor v = value(at);
  GradOptions go;
  go.create_graph = create_graph;
  go.retain_graph = true;
  const Tensor g =
      grad(std::vector<Tensor>{v}, std::vector<Tensor>{at}, std::vector<Tensor>{ones_like(v)}, go)[0];
  return {v, g};
}

CodeBox code_box(const Tensor& z, double margin) {
  GG_CHECK(z.defined() && z.dim() == 2 && z.size(0) >= 1 && z.size(1) >= 1,
           "code_box: expected codes [N, m], got " +
               (z.defined() ? shape_str(z.shape()) : std::string("undefined")));
  GG_CHECK(std::isfinite(margin) && margin >= 0,
           "code_box: margin must be a finite number >= 0, got " + number_text(margin));
  NoGradGuard no_grad;
  const int64_t n = z.size(0), m = z.size(1);
  const std::vector<double> codes = z.detach().to(DType::f64).to_vector();
  CodeBox box{std::vector<double>(static_cast<size_t>(m), INFINITY),
              std::vector<double>(static_cast<size_t>(m), -INFINITY)};
  for (int64_t i = 0; i < n; ++i)
    for (size_t j = 0; j < size_t(m); ++j) {
      const double c = codes[size_t(i * m) + j];
      GG_CHECK(std::isfinite(c), "code_box: a code is not finite");
      box.lo[j] = std::min(box.lo[j], c), box.hi[j] = std::max(box.hi[j], c);
    }
  for (size_t j = 0; j < size_t(m); ++j) {
    const double extent = box.hi[j] > box.lo[j] ? box.hi[j] - box.lo[j] : 1.0;
    box.lo[j] -= margin * extent, box.hi[j] += margin * extent;
  }
  return box;
}

double CodeBox::volume() const {
  double v = 1;
  for (size_t j = 0; j < lo.size(); ++j) v *= hi[j] - lo[j];
  return v;
}

Tensor CodeBox::interior(int64_t count, Generator& gen, const Tensor& like) const {
  GG_CHECK(count >= 1, "CodeBox::interior: count must be >= 1");
  const int64_t m = static_cast<int64_t>(lo.size());
  std::vector<double> points = Tensor::rand({count, m}, gen, DType::f64).to_vector();
  for (size_t k = 0; k < points.size(); ++k)
    points[k] = lo[k % lo.size()] + points[k] * (hi[k % lo.size()] - lo[k % lo.size()]);
  return Tensor::from_data(points, {count, m}, like.dtype(), like.device());
}

void pose_on_box(RitzProblem& problem, const CodeBox& box, int64_t interior_points, double density_bandwidth,
                 Generator& gen) {
  GG_CHECK(problem.z.defined() && problem.s.defined() && problem.weight.defined(),
           "pose_on_box: the problem's landmarks, sources and weights come first");
  // The redraws' own stream, derived from gen's state (which moves on by one draw), so that they neither
  // repeat nor shift the caller's later draws.
  auto stream =
      std::make_shared<Generator>((gen.seed ^ 0x5EED0F517EULL) * 0x9E3779B97F4A7C15ULL + gen.offset);
  gen.offset += 1;
  // The bandwidth is chosen once (its cross-validation costs M^2 per candidate), so s~ follows phi through
  // the landmarks, sources and weights but not through h.
  const double h = gg::density_bandwidth(problem.z, density_bandwidth);
  auto draw = [box, interior_points, h, stream](RitzProblem& p) {
    p.z_interior = box.interior(interior_points, *stream, p.z);
    p.interior_source = smoothed_source(p.z_interior, p.z, p.s * p.weight, h);
    p.interior_volume = box.volume();
  };
  draw(problem);
  problem.redraw = draw;
}

Tensor ritz_energy(RitzPotential& potential, const RitzProblem& p) {
  const RitzOptions& o = potential.options();
  GG_CHECK(p.s.defined() && p.s.dim() == 1 && p.z.defined() && p.z.dim() == 2 && p.s.size(0) == p.z.size(0),
           "ritz_energy: expected codes [M, m] and sources [M], got " +
               (p.z.defined() ? shape_str(p.z.shape()) : std::string("undefined")) + " and " +
               (p.s.defined() ? shape_str(p.s.shape()) : std::string("undefined")));
  auto quadratic = [&](const Tensor& at) {                            // 1/2 |grad v|^2 + mu/2 v^2, and v
    const auto [v, grad_z] = potential.value_and_gradient(at, true);  // create_graph: E is differentiated
    return std::make_pair(sum(square(grad_z), {1}) * 0.5 + square(v) * (0.5 * o.mu), v);
  };
  Tensor energy;
  if (p.z_interior.defined()) {  // the Monte-Carlo integral over a box (pose_on_box)
    const auto [q, v] = quadratic(p.z_interior);
    energy = mean(q + p.interior_source * v) * p.interior_volume;
  } else {
    const auto [q, v] = quadratic(p.z);
    Tensor density = q + p.s * v;
    if (p.weight.defined()) density = density * p.weight;
    energy = mean(density);
  }
  if (o.dirichlet > 0 && p.z_boundary.defined())
    energy = energy + mean(square(potential.value(p.z_boundary))) * o.dirichlet;
  return energy;
}

namespace {

// dE/dtheta with a graph, so that its products with vectors can be differentiated again (Hessian-vector
// products, and the mixed derivative of implicit_correction).
std::vector<Tensor> energy_gradient(RitzPotential& potential, const RitzProblem& problem) {
  GradOptions go;
  go.create_graph = true;
  return grad(std::vector<Tensor>{ritz_energy(potential, problem)}, potential.parameters(), {}, go);
}

bool within(double v, double bound) { return std::isfinite(v) && std::abs(v) <= bound; }

}  // namespace

RitzReport RitzPotential::fit(const RitzProblem& problem, int64_t steps) {
  prepare(problem.z);
  RitzReport report;
  report.steps = fresh_ ? options_.first_steps : (steps >= 0 ? steps : options_.steps);
  ++solves_;
  const std::vector<Tensor> params = parameters();
  // A fit from scratch settles by a cosine from lr to lr / 100; warm fits keep lr.
  const bool anneal = fresh_;
  RitzProblem drawn = problem;
  for (int64_t i = 0; i < report.steps; ++i) {
    if (drawn.redraw) drawn.redraw(drawn);
    if (anneal) {
      const double progress = static_cast<double>(i) / static_cast<double>(report.steps);
      optimizer_->set_lr(options_.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(std::numbers::pi * progress))));
    }
    const Tensor energy = ritz_energy(*this, drawn);
    const std::vector<Tensor> g = grad(std::vector<Tensor>{energy}, params);
    report.energy = energy.item();
    report.gradient_norm = std::sqrt(dot(g, g));
    if (!within(report.energy, options_.divergence) || !within(report.gradient_norm, options_.divergence)) {
      report.diverged = true;
      report.reason = "inner step " + std::to_string(i + 1) + ": energy " + number_text(report.energy) +
                      ", |dE/dtheta| " + number_text(report.gradient_norm);
      reset();
      return report;
    }
    optimizer_->step(g);
  }
  optimizer_->set_lr(options_.lr);
  if (options_.newton_steps > 0) {
    report.gradient_norm = newton(problem, options_.newton_steps, options_.damping);
    if (!within(report.gradient_norm, options_.divergence)) {
      report.diverged = true;
      report.reason = "Newton steps: |dE/dtheta| " + number_text(report.gradient_norm);
      reset();
      return report;
    }
  }
  fresh_ = false;
  return report;
}

std::vector<Tensor> solve_hessian(RitzPotential& potential, const RitzProblem& problem,
                                  const std::vector<Tensor>& rhs, double damping, RitzReport& report) {
  const std::vector<Tensor> params = potential.parameters();
  const std::vector<Tensor> g = energy_gradient(potential, problem.detached());
  GradOptions keep;
  keep.retain_graph = true;
  auto hessian_times = [&](const std::vector<Tensor>& p) {  // (H + delta I) p
    std::vector<Tensor> hp = grad(g, params, p, keep);
    return axpy(hp, damping, p);
  };
  // Conjugate gradient from u = 0.
  std::vector<Tensor> u, r, p;
  for (const Tensor& b : rhs) {
    u.push_back(zeros_like(b));
    r.push_back(b.detach());
    p.push_back(b.detach());
  }
  const double b_norm = std::sqrt(dot(rhs, rhs));
  double rr = b_norm * b_norm;
  report.cg_iterations = 0;
  report.cg_residual = 0;
  report.cg_converged = true;
  if (b_norm == 0) return u;
  const double tolerance = potential.options().cg_tolerance * b_norm;
  for (int64_t k = 0; k < potential.options().cg_iterations && std::sqrt(rr) > tolerance; ++k) {
    const std::vector<Tensor> hp = hessian_times(p);
    const double curvature = dot(p, hp);
    ++report.cg_iterations;
    if (!(curvature > 0)) break;  // negative curvature (or NaN): keep the u reached so far
    const double alpha = rr / curvature;
    u = axpy(u, alpha, p);
    r = axpy(r, -alpha, hp);
    const double rr_next = dot(r, r);
    p = axpy(r, rr_next / rr, p);
    rr = rr_next;
  }
  report.cg_residual = std::sqrt(rr) / b_norm;
  report.cg_converged = report.cg_residual <= potential.options().cg_tolerance;
  const double u_norm = std::sqrt(dot(u, u));
  if (!within(report.cg_residual, potential.options().divergence) ||
      !within(u_norm, potential.options().divergence)) {
    report.diverged = true;
    report.reason = "conjugate gradient: relative residual " + number_text(report.cg_residual) + ", |u| " +
                    number_text(u_norm);
  }
  return u;
}

double RitzPotential::newton(const RitzProblem& problem, int64_t steps, double damping) {
  prepare(problem.z);
  const RitzProblem fixed = problem.detached();
  const std::vector<Tensor> params = parameters();
  // Converged: |dE/dtheta| at 1e-3 sqrt(machine epsilon), where the energy's rounding takes over.
  const double epsilon =
      dtype_ == DType::f64 ? std::numeric_limits<double>::epsilon() : std::numeric_limits<float>::epsilon();
  const double converged = 1e-3 * std::sqrt(epsilon);
  double norm = 0;
  for (int64_t i = 0; i <= steps; ++i) {
    const std::vector<Tensor> g = grad(std::vector<Tensor>{ritz_energy(*this, fixed)}, params);
    norm = std::sqrt(dot(g, g));
    if (i == steps || norm <= converged) break;
    RitzReport report;
    const std::vector<Tensor> step = solve_hessian(*this, fixed, g, damping, report);
    NoGradGuard no_grad;
    for (size_t k = 0; k < params.size(); ++k) {
      Tensor param = params[k];  // shares the parameter's storage
      param.copy_(param - step[k]);
    }
  }
  fresh_ = false;
  return norm;
}

Tensor implicit_correction(RitzPotential& potential, const RitzProblem& problem,
                           const std::vector<Tensor>& u) {
  const std::vector<Tensor> g = energy_gradient(potential, problem);  // dE/dtheta, with phi's history
  Tensor inner = sum(g[0] * u[0]);
  for (size_t i = 1; i < g.size(); ++i) inner = inner + sum(g[i] * u[i]);
  const Tensor correction = -inner;
  return correction - correction.detach();
}

}  // namespace gg
