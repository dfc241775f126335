#include "regularizers/jacobian_penalty.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "models/config_reader.h"

namespace gg {

namespace {

const std::vector<std::string> kMethods = {"auto", "exact", "hutchinson", "closed_form"};
const std::vector<std::string> kRoutes = {"auto", "reverse", "forward", "gram", "loop"};
const std::vector<std::string> kProbeKinds = {"rademacher", "gaussian"};

bool one_of(const std::string& v, const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), v) != names.end();
}

Tensor rows_of(const Tensor& t) { return reshape(t, {t.size(0), -1}); }

// Per sample, the sum of squares of a batch of Jacobian rows or columns [P, B, ...] -> [B].
Tensor per_sample_sq(const Tensor& rows) {
  return sum(square(reshape(rows, {rows.size(0), rows.size(1), -1})), {0, 2});
}

// The reverse route for cotangents c [P, B, m]: per sample sum_p ||J_b^T c_pb||^2.
Tensor reverse_sq(const Tensor& y, const Tensor& x, const Tensor& c, bool create_graph) {
  return per_sample_sq(batched_vjp(y, x, c, create_graph));  // [P, B, ...x]
}

// The gram route: the batched pass stops at h = x W^T + b; ||W^T r||^2 = r (W W^T) r^T for each row r.
Tensor gram_sq(const Tensor& y, const Tensor& h, const Tensor& weight, const Tensor& c, bool create_graph) {
  GG_CHECK(h.defined() && weight.defined() && h.dim() == 2 && weight.dim() == 2 && weight.size(0) == h.size(1),
           "jacobian_sq: route \"gram\" needs h [B, H] and the weight W [H, d] that made it, got h " +
               (h.defined() ? h.str() : "undefined") + " and W " + (weight.defined() ? weight.str() : "undefined"));
  const int64_t p = c.size(0), b = y.size(0);
  const Tensor rows = batched_vjp(y, h, c, create_graph);  // [P, B, H]
  Tensor ww;
  {
    GradModeGuard mode(create_graph && grad_enabled());  // a graph only when the result is differentiated
    ww = gram(transpose(weight));                          // W W^T: [H, H], one product forward and one backward
  }
  const Tensor q = rowwise_quadratic_form(reshape(rows, {p * b, h.size(1)}), ww);  // [P B]
  return sum(reshape(q, {p, b}), {0});
}

Tensor forward_sq(const Tensor& y, const Tensor& x, bool create_graph) {
  return sum(square(rows_of(batch_jacobian_forward(y, x, create_graph))), {1});  // d columns of every J_b
}

Tensor loop_sq(const Tensor& y, const Tensor& x, bool create_graph) {
  GradOptions o;
  o.create_graph = create_graph;
  o.retain_graph = true;
  Tensor s;
  for (int64_t k = 0; k < y.size(1); ++k) {
    const Tensor gk = grad(sum(slice(y, 1, k, k + 1)), x, {}, o);  // row k of every J_b
    const Tensor term = sum(square(rows_of(gk)), {1});
    s = s.defined() ? s + term : term;
  }
  return s;
}

}  // namespace

// ---- Options --------------------------------------------------------------------------------------------

void validate(const PenaltyOptions& o, const std::string& path) {
  GG_CHECK(one_of(o.method, kMethods),
           path + ".method: unknown method '" + o.method + "' (valid: " + joined_names(kMethods) + ")");
  GG_CHECK(one_of(o.route, kRoutes), path + ".route: unknown route '" + o.route + "' (valid: " + joined_names(kRoutes) + ")");
  GG_CHECK(one_of(o.probe_kind, kProbeKinds),
           path + ".probe_kind: unknown probe kind '" + o.probe_kind + "' (valid: " + joined_names(kProbeKinds) + ")");
  GG_CHECK(o.probes >= 1, path + ".probes: must be a positive integer, got " + std::to_string(o.probes));
  GG_CHECK(o.auto_max_width >= 0, path + ".auto_max_width: must be >= 0, got " + std::to_string(o.auto_max_width));
  if (o.method == "hutchinson")
    GG_CHECK(o.route == "auto" || o.route == "reverse" || o.route == "gram",
             path + ".route: method \"hutchinson\" takes route \"auto\", \"reverse\" or \"gram\", got \"" + o.route + "\"");
  if (o.method == "closed_form" || o.method == "auto")
    GG_CHECK(o.route == "auto", path + ".route: method \"" + o.method + "\" takes route \"auto\" (the route is " +
                                    (o.method == "auto" ? "picked by the cost model" : "the formula") + "), got \"" +
                                    o.route + "\"");
}

template <class Self, class Field>
  requires std::same_as<std::remove_const_t<Self>, PenaltyOptions>
void config_fields(Self& o, Field&& field) {
  field("method", o.method, kMethods);
  field("route", o.route, kRoutes);
  field("probe_kind", o.probe_kind, kProbeKinds);
  field("probes", o.probes);
  field("auto_max_width", o.auto_max_width);
  field("create_graph", o.create_graph);
}

void to_json(nlohmann::json& j, const PenaltyOptions& o) { write_fields(j, o); }

void from_json(const nlohmann::json& j, PenaltyOptions& out) {
  ConfigReader r(j, "penalty");
  PenaltyOptions o;
  read_fields(r, o);
  r.done();
  validate(o, r.path());
  out = o;
}

// ---- The routes -----------------------------------------------------------------------------------------

Tensor random_probes(const Tensor& y, int64_t k, const std::string& kind, Generator& gen) {
  GG_CHECK(k > 0, "random_probes: probes must be positive, got " + std::to_string(k));
  const Shape s{k, y.size(0), y.size(1)};
  if (kind == "gaussian") return Tensor::randn(s, gen, y.dtype(), y.device());
  GG_CHECK(kind == "rademacher", "random_probes: unknown probe kind '" + kind + "' (valid: " + joined_names(kProbeKinds) + ")");
  return lt(Tensor::rand(s, gen, y.dtype(), y.device()), scalar_like(0.5, y)) * 2.0 - 1.0;
}

Tensor jacobian_sq(const JacobianPair& pair, const JacobianPlan& plan, const PenaltyOptions& options, Generator* gen,
                   Tensor* rows) {
  if (rows) *rows = Tensor();
  const bool gram_route = plan.route == "gram";
  const Tensor& in = gram_route ? pair.h : pair.x;  // the gram route needs h, not x
  GG_CHECK(pair.y.defined() && in.defined() && pair.y.dim() >= 1 && in.dim() >= 1 && pair.y.size(0) == in.size(0),
           std::string("jacobian_sq: ") + (gram_route ? "route \"gram\" " : "") +
               "needs y [B, ...] computed row by row from " + (gram_route ? "h" : "x") +
               " [B, ...], got y " + (pair.y.defined() ? pair.y.str() : "undefined") + " and " +
               (gram_route ? "h " : "x ") + (in.defined() ? in.str() : "undefined"));
  const Tensor y = pair.y.dim() == 2 ? pair.y : rows_of(pair.y);
  const Tensor& x = pair.x;
  const bool cg = options.create_graph;
  const int64_t m = y.size(1), d = in.numel() / std::max<int64_t>(in.size(0), 1);
  if (plan.method == "hutchinson") {
    GG_CHECK(gen, "jacobian_sq: method \"hutchinson\" draws its probes from a Generator; none was given");
    GG_CHECK(plan.route == "auto" || plan.route == "reverse" || plan.route == "gram",
             "jacobian_sq: method \"hutchinson\" takes route \"auto\", \"reverse\" or \"gram\", got \"" + plan.route + "\"");
    const Tensor u = random_probes(y, options.probes, options.probe_kind, *gen);
    const Tensor sq = plan.route == "gram" ? gram_sq(y, pair.h, pair.weight, u, cg) : reverse_sq(y, x, u, cg);
    return sq / double(options.probes);
  }
  GG_CHECK(plan.method == "exact", "jacobian_sq: method '" + plan.method + "' is not \"exact\" or \"hutchinson\"");
  const std::string route = plan.route == "auto" ? (d < m ? "forward" : "reverse") : plan.route;
  if (route == "reverse") {
    const Tensor jacobian_rows = batched_vjp(y, x, one_hot_cotangents(y), cg);  // [m, B, ...x]
    if (rows) *rows = jacobian_rows;
    return per_sample_sq(jacobian_rows);
  }
  if (route == "gram") return gram_sq(y, pair.h, pair.weight, one_hot_cotangents(y), cg);
  if (route == "forward") return forward_sq(y, x, cg);
  if (route == "loop") return loop_sq(y, x, cg);
  fail("jacobian_sq: unknown route '" + plan.route + "' (valid: " + joined_names(kRoutes) + ")");
}

}  // namespace gg
