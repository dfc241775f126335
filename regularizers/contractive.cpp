#include "regularizers/contractive.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>


namespace gg {

namespace {

const std::vector<std::string> kMethods = {"auto", "exact", "hutchinson", "closed_form"};
const std::vector<std::string> kRoutes = {"auto", "reverse", "forward", "gram", "loop"};
const std::vector<std::string> kProbeKinds = {"rademacher", "gaussian"};
const std::vector<std::string> kKeys = {"method", "probes", "probe_kind", "route", "auto_max_width"};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool one_of(const std::string& v, const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), v) != names.end();
}

// ---- Layer widths and FLOPs ----------------------------------------------------------------------------

struct Widths {
  int64_t d = 0, m = 0, head = 0;
  int64_t first_linear = 0;  // H: the first Linear layer's output width (mlp), 0 for conv
  double enc = 0, enc_rest = 0, dec = 0;
};

Widths widths_of(const AutoencoderConfig& c) {
  validate(c);
  Widths w;
  w.d = shape_numel(c.input_shape);
  w.m = c.code_dim;
  w.head = c.variational ? 2 * c.code_dim : c.code_dim;
  if (c.arch == "mlp") {
    std::vector<int64_t> ws{w.d};
    ws.insert(ws.end(), c.hidden.begin(), c.hidden.end());
    ws.push_back(w.head);
    for (size_t i = 0; i + 1 < ws.size(); ++i) w.enc += 2.0 * double(ws[i]) * double(ws[i + 1]);
    w.first_linear = ws[1];
    w.enc_rest = w.enc - 2.0 * double(ws[0]) * double(ws[1]);
    ws.back() = w.m;  // the decoder starts from the k-wide code
    for (size_t i = 0; i + 1 < ws.size(); ++i) w.dec += 2.0 * double(ws[i]) * double(ws[i + 1]);
    return w;
  }
  // conv: the input padded to multiples of 16, four stride-2 3x3 convolutions C -> d -> 2d -> 4d -> 8d, a
  // Linear to the head; the decoder mirrors it with transposed convolutions.
  const int64_t C = c.input_shape[0];
  int64_t h = (c.input_shape[1] + 15) / 16 * 16, wd = (c.input_shape[2] + 15) / 16 * 16;
  const std::vector<int64_t> ch{C, c.width, 2 * c.width, 4 * c.width, 8 * c.width};
  for (size_t i = 0; i < 4; ++i) {
    h /= 2, wd /= 2;
    const double f = 2.0 * double(ch[i]) * double(ch[i + 1]) * 9.0 * double(h) * double(wd);
    w.enc += f;
    w.dec += f;  // the transposed convolution from this grid back up costs the same
  }
  const double flat = double(8 * c.width * h * wd);
  w.enc += 2.0 * flat * double(w.head);
  w.dec += 2.0 * flat * double(w.m);
  w.enc_rest = w.enc;
  return w;
}

// The Linear layer right after the encoder's Flatten (mlp), or null.
Linear* first_linear(Autoencoder& model) {
  Sequential& enc = model.encoder();
  if (model.config().arch != "mlp" || enc.size() < 2 || enc[0].type() != "Flatten") return nullptr;
  return dynamic_cast<Linear*>(&enc[1]);
}

// ---- The routes -----------------------------------------------------------------------------------------

// Per sample, sum over the P cotangents of ||J_b^T c_pb||^2: rows [P, B, ...] -> [B].
Tensor row_norms(const Tensor& rows) {
  return sum(square(reshape(rows, {rows.size(0), rows.size(1), -1})), {0, 2});
}

// The reverse route for cotangents c [P, B, m]: per sample sum_p ||J_b^T c_pb||^2.
Tensor reverse_sq(const Tensor& z, const Tensor& x, const Tensor& c, bool create_graph) {
  const Tensor rows = batched_vjp(z, x, c, create_graph);  // [P, B, ...x]
  return row_norms(rows);
}

// The gram route: the batched pass stops at h = x W^T + b; ||W^T r||^2 = r (W W^T) r^T for each row r.
Tensor gram_sq(const Tensor& z, const Tensor& h, const Tensor& weight, const Tensor& c, bool create_graph) {
  const int64_t p = c.size(0), b = z.size(0);
  const Tensor rows = batched_vjp(z, h, c, create_graph);  // [P, B, H]
  Tensor ww;
  {
    GradModeGuard mode(create_graph && grad_enabled());  // a graph only when the result is differentiated
    ww = gram(transpose(weight));      // W W^T: [H, H], one product forward and one backward
  }
  const Tensor q = rowwise_quadratic_form(reshape(rows, {p * b, h.size(1)}), ww);  // [P B]
  return sum(reshape(q, {p, b}), {0});
}

Tensor forward_sq(const Tensor& z, const Tensor& x, bool create_graph) {
  const int64_t b = x.size(0), d = x.numel() / std::max<int64_t>(b, 1);
  Tensor u = zeros_like(z).requires_grad_();
  GradOptions first;
  first.create_graph = true;
  first.retain_graph = true;
  const Tensor gx = reshape(grad(z, x, u, first), {b, d});  // J_b^T u_b, linear in u
  const Tensor cols = batched_vjp(gx, u, one_hot_cotangents(gx), create_graph);  // [d, B, m]: column j of every J_b
  return row_norms(cols);
}

Tensor loop_sq(const Tensor& z, const Tensor& x, bool create_graph) {
  GradOptions o;
  o.create_graph = create_graph;
  o.retain_graph = true;
  Tensor s;
  for (int64_t k = 0; k < z.size(1); ++k) {
    const Tensor gk = grad(sum(slice(z, 1, k, k + 1)), x, {}, o);  // row k of every J_b
    const Tensor term = sum(square(reshape(gk, {x.size(0), -1})), {1});
    s = s.defined() ? s + term : term;
  }
  return s;
}

Tensor probes_for(const Tensor& z, int64_t k, const std::string& kind, Generator& gen) {
  const Shape s{k, z.size(0), z.size(1)};
  if (kind == "gaussian") return Tensor::randn(s, gen, z.dtype(), z.device());
  return lt(Tensor::rand(s, gen, z.dtype(), z.device()), scalar_like(0.5, z)) * 2.0 - 1.0;
}

// What Autoencoder::encode checks of its input, for the gram route which runs the encoder layer by layer.
void check_input(const AutoencoderConfig& c, const Tensor& x) {
  const bool ok = x.dim() == int64_t(c.input_shape.size()) + 1 &&
                  std::equal(c.input_shape.begin(), c.input_shape.end(), x.shape().begin() + 1);
  GG_CHECK(ok, "contractive_source: input " + x.str() + " does not match the model's [N," +
                   shape_str(c.input_shape).substr(1));
  GG_CHECK(x.dtype() == c.dtype, "contractive_source: input " + x.str() + " has a different dtype from the model's " +
                                     dtype_name(c.dtype));
}

// Runs the encoder with the first Linear layer's output h kept (for the gram route): {h, z}.
std::pair<Tensor, Tensor> encode_through_first_linear(Autoencoder& model, const Tensor& x) {
  Sequential& enc = model.encoder();
  const Tensor h = enc[1](enc[0](x));
  Tensor t = h;
  for (size_t i = 2; i < enc.size(); ++i) t = enc[i](t);
  const int64_t k = model.config().code_dim;
  return {h, model.config().variational ? slice(t, 1, 0, k) : t};
}

}  // namespace

// ---- Options --------------------------------------------------------------------------------------------

void validate(const PenaltyOptions& o) {
  GG_CHECK(one_of(o.method, kMethods),
           "penalty.method: unknown method '" + o.method + "' (valid: " + joined(kMethods) + ")");
  GG_CHECK(one_of(o.route, kRoutes), "penalty.route: unknown route '" + o.route + "' (valid: " + joined(kRoutes) + ")");
  GG_CHECK(one_of(o.probe_kind, kProbeKinds),
           "penalty.probe_kind: unknown probe kind '" + o.probe_kind + "' (valid: " + joined(kProbeKinds) + ")");
  GG_CHECK(o.probes >= 1, "penalty.probes: must be a positive integer, got " + std::to_string(o.probes));
  GG_CHECK(o.auto_max_width >= 0,
           "penalty.auto_max_width: must be >= 0, got " + std::to_string(o.auto_max_width));
  if (o.method == "hutchinson")
    GG_CHECK(o.route == "auto" || o.route == "reverse" || o.route == "gram",
             "penalty.route: method \"hutchinson\" takes route \"auto\", \"reverse\" or \"gram\", got \"" + o.route + "\"");
  if (o.method == "closed_form" || o.method == "auto")
    GG_CHECK(o.route == "auto", "penalty.route: method \"" + o.method + "\" takes route \"auto\" (the route is " +
                                    (o.method == "auto" ? "picked by the cost model" : "the formula") + "), got \"" +
                                    o.route + "\"");
}

void to_json(nlohmann::json& j, const PenaltyOptions& o) {
  j = {{"method", o.method},
       {"probes", o.probes},
       {"probe_kind", o.probe_kind},
       {"route", o.route},
       {"auto_max_width", o.auto_max_width}};
}

void from_json(const nlohmann::json& j, PenaltyOptions& out) {
  GG_CHECK(j.is_object(), "penalty: expected a JSON object, got " + j.dump());
  PenaltyOptions o;
  for (const auto& [key, value] : j.items()) {
    const std::string where = "penalty." + key;
    auto text = [&] {
      GG_CHECK(value.is_string(), where + ": expected a string, got " + value.dump());
      return value.get<std::string>();
    };
    auto integer = [&] {
      GG_CHECK(value.is_number_integer(), where + ": expected an integer, got " + value.dump());
      return value.get<int64_t>();
    };
    if (key == "method") o.method = text();
    else if (key == "probe_kind") o.probe_kind = text();
    else if (key == "route") o.route = text();
    else if (key == "probes") o.probes = integer();
    else if (key == "auto_max_width") o.auto_max_width = integer();
    else fail("penalty: unknown key '" + key + "' (valid: " + joined(kKeys) + ")");
  }
  validate(o);
  out = o;
}

bool has_closed_form(const AutoencoderConfig& c, std::string* why) {
  std::string reason;
  if (c.arch != "mlp") reason = "arch is \"" + c.arch + "\", not \"mlp\"";
  else if (!c.hidden.empty()) reason = "hidden is " + shape_str(c.hidden) + ", not [] (one layer)";
  else if (c.code_activation != "sigmoid") reason = "code_activation is \"" + c.code_activation + "\", not \"sigmoid\"";
  else if (c.variational) reason = "the encoder is variational";
  if (why) *why = reason;
  return reason.empty();
}

// ---- Cost model -----------------------------------------------------------------------------------------

ContractiveCost contractive_cost(const AutoencoderConfig& model, int64_t batch, const PenaltyOptions& o) {
  validate(o);
  GG_CHECK(batch > 0, "contractive_cost: batch must be positive, got " + std::to_string(batch));
  const Widths w = widths_of(model);
  ContractiveCost c;
  c.batch = batch, c.m = w.m, c.d = w.d;
  c.encoder_flops = w.enc, c.encoder_rest_flops = w.enc_rest, c.decoder_flops = w.dec;
  const double B = double(batch), m = double(w.m), d = double(w.d), F = w.enc, k = double(o.probes);
  c.plain_step = 3.0 * B * (w.enc + w.dec);
  c.reverse = 3.0 * m * B * F;
  c.forward = 3.0 * (d + 2.0) * B * F;
  c.loop = c.reverse;
  c.hutchinson_reverse = 3.0 * k * B * F;
  const bool gram_ok = model.arch == "mlp";
  if (gram_ok) {
    const double H = double(w.first_linear);
    c.first_linear_width = w.first_linear;
    auto gram_cost = [&](double p) { return 3.0 * p * B * w.enc_rest + 4.0 * p * B * H * H + 4.0 * H * H * d; };
    c.gram = gram_cost(m);
    c.hutchinson_gram = gram_cost(k);
  }
  std::string why;
  const bool closed = has_closed_form(model, &why);
  if (closed) c.closed_form = 10.0 * B * m + 4.0 * m * d;

  auto cheapest_exact = [&]() -> ContractivePlan {
    ContractivePlan p{"exact", c.reverse <= c.forward ? "reverse" : "forward"};
    const double best = std::min(c.reverse, c.forward);
    if (gram_ok && c.gram < best) p.route = "gram";
    return p;
  };
  auto cheapest_hutchinson = [&]() -> ContractivePlan {
    return {"hutchinson", gram_ok && c.hutchinson_gram < c.hutchinson_reverse ? "gram" : "reverse"};
  };
  auto cost_of = [&](const ContractivePlan& p) {
    if (p.method == "closed_form") return c.closed_form;
    if (p.method == "hutchinson") return p.route == "gram" ? c.hutchinson_gram : c.hutchinson_reverse;
    if (p.route == "forward") return c.forward;
    if (p.route == "gram") return c.gram;
    if (p.route == "loop") return c.loop;
    return c.reverse;
  };

  if (o.route == "gram")
    GG_CHECK(gram_ok, "penalty.route \"gram\" goes through the encoder's first Linear layer, which only arch "
                      "\"mlp\" has (this model is arch \"" + model.arch + "\")");
  if (o.method == "closed_form") {
    GG_CHECK(closed, "penalty.method \"closed_form\" needs a one-layer sigmoid encoder (arch \"mlp\", hidden [], "
                     "code_activation \"sigmoid\", not variational), but " + why);
    c.plan = {"closed_form", ""};
  } else if (o.method == "exact") {
    c.plan = o.route == "auto" ? cheapest_exact() : ContractivePlan{"exact", o.route};
  } else if (o.method == "hutchinson") {
    c.plan = o.route == "auto" ? cheapest_hutchinson() : ContractivePlan{"hutchinson", o.route};
  } else {  // auto
    if (closed) {
      c.plan = {"closed_form", ""};
    } else {
      c.plan = cheapest_exact();
      const ContractivePlan h = cheapest_hutchinson();
      if (std::min(w.m, w.d) > o.auto_max_width && cost_of(h) < cost_of(c.plan)) c.plan = h;
    }
  }
  c.planned = cost_of(c.plan);
  return c;
}

// ---- The source ----------------------------------------------------------------------------------------

ContractiveSource contractive_source(Autoencoder& model, const Tensor& x, const PenaltyOptions& options,
                                     Generator& gen) {
  const AutoencoderConfig& cfg = model.config();
  GG_CHECK(x.defined() && x.dim() >= 1, "contractive_source: x must be a batch [B, input_shape...]");
  const ContractiveCost cost = contractive_cost(cfg, std::max<int64_t>(x.size(0), 1), options);
  const ContractivePlan& plan = cost.plan;
  const bool cg = options.create_graph;

  ContractiveSource out;
  out.plan = plan;
  out.x = x.detach().requires_grad_();
  if (plan.method == "closed_form") {
    // z = sigmoid(x W^T + b): dz_i/dx_j = z_i (1 - z_i) W_ij, so ||J||_F^2 = sum_i (z_i (1 - z_i))^2 ||W_i||^2.
    out.z = model.encode(out.x);
    Linear* lin = first_linear(model);
    GG_CHECK(lin, "contractive_source: closed_form expects the encoder Flatten, Linear, sigmoid");
    GradModeGuard mode(grad_enabled() && cg);  // as the other methods: a graph for s only with create_graph
    const Tensor row_sq = sum(square(lin->weight()), {1});  // [m]
    out.s = sum(square(out.z * (1.0 - out.z)) * row_sq, {1});
    return out;
  }

  const bool gram_route = plan.route == "gram";
  Tensor h;
  if (gram_route) {
    Linear* lin = first_linear(model);
    GG_CHECK(lin, "contractive_source: route \"gram\" expects the mlp encoder to start Flatten, Linear");
    check_input(cfg, x);
    auto [first, code] = encode_through_first_linear(model, out.x);
    h = first, out.z = code;
  } else {
    out.z = model.encode(out.x);
  }
  const Tensor& z = out.z;

  if (plan.method == "hutchinson") {
    const Tensor u = probes_for(z, options.probes, options.probe_kind, gen);
    const Tensor sq = gram_route ? gram_sq(z, h, first_linear(model)->weight(), u, cg) : reverse_sq(z, out.x, u, cg);
    out.s = sq / double(options.probes);
  } else if (plan.route == "reverse") {
    out.s = reverse_sq(z, out.x, one_hot_cotangents(z), cg);
  } else if (plan.route == "gram") {
    out.s = gram_sq(z, h, first_linear(model)->weight(), one_hot_cotangents(z), cg);
  } else if (plan.route == "forward") {
    out.s = forward_sq(z, out.x, cg);
  } else if (plan.route == "loop") {
    out.s = loop_sq(z, out.x, cg);
  } else {
    fail("contractive_source: unknown route '" + plan.route + "'");
  }
  return out;
}

Tensor contractive_penalty(Autoencoder& model, const Tensor& x, const PenaltyOptions& options, Generator& gen) {
  return mean(contractive_source(model, x, options, gen).s);
}

}  // namespace gg
