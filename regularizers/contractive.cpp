#include "regularizers/contractive.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "models/config_reader.h"

namespace gg {

namespace {

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

const char* jacobian_of_name(JacobianOf of) { return of == JacobianOf::encoder ? "encoder" : "autoencoder"; }

ContractiveCost contractive_cost(const AutoencoderConfig& model, int64_t batch, const PenaltyOptions& o,
                                 JacobianOf of) {
  validate(o);
  GG_CHECK(batch > 0, "contractive_cost: batch must be positive, got " + std::to_string(batch));
  const Widths w = widths_of(model);
  const bool whole = of == JacobianOf::autoencoder;
  ContractiveCost c;
  c.batch = batch, c.m = whole ? w.d : w.m, c.d = w.d;
  c.encoder_flops = w.enc, c.encoder_rest_flops = w.enc_rest, c.decoder_flops = w.dec;
  // The map differentiated: the encoder, or the encoder and the decoder after it.
  const double F = whole ? w.enc + w.dec : w.enc, F_rest = whole ? w.enc_rest + w.dec : w.enc_rest;
  c.map_flops = F;
  const double B = double(batch), m = double(c.m), d = double(w.d), k = double(o.probes);
  c.plain_step = 3.0 * B * (w.enc + w.dec);
  c.reverse = 3.0 * m * B * F;
  c.forward = 3.0 * (d + 2.0) * B * F;
  c.loop = c.reverse;
  c.hutchinson_reverse = 3.0 * k * B * F;
  const bool gram_ok = model.arch == "mlp";
  if (gram_ok) {
    const double H = double(w.first_linear);
    c.first_linear_width = w.first_linear;
    auto gram_cost = [&](double p) { return 3.0 * p * B * F_rest + 4.0 * p * B * H * H + 4.0 * H * H * d; };
    c.gram = gram_cost(m);
    c.hutchinson_gram = gram_cost(k);
  }
  std::string why;
  const bool closed = !whole && has_closed_form(model, &why);
  if (whole) why = "it is the encoder's formula, and this penalty is of the whole map D o E";
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
      if (std::min(c.m, c.d) > o.auto_max_width && cost_of(h) < cost_of(c.plan)) c.plan = h;
    }
  }
  c.planned = cost_of(c.plan);
  return c;
}

// ---- The source ----------------------------------------------------------------------------------------

ContractiveSource contractive_source(Autoencoder& model, const Tensor& x, const PenaltyOptions& options,
                                     Generator& gen, JacobianOf of) {
  const AutoencoderConfig& cfg = model.config();
  GG_CHECK(x.defined() && x.dim() >= 1, "contractive_source: x must be a batch [B, input_shape...]");
  const ContractiveCost cost = contractive_cost(cfg, std::max<int64_t>(x.size(0), 1), options, of);
  const ContractivePlan& plan = cost.plan;

  ContractiveSource out;
  out.plan = plan;
  out.x = x.detach().requires_grad_();
  if (plan.method == "closed_form") {
    // z = sigmoid(x W^T + b): dz_i/dx_j = z_i (1 - z_i) W_ij, so ||J||_F^2 = sum_i (z_i (1 - z_i))^2 ||W_i||^2.
    out.z = out.y = model.encode(out.x);
    Linear* lin = first_linear(model);
    GG_CHECK(lin, "contractive_source: closed_form expects the encoder Flatten, Linear, sigmoid");
    GradModeGuard mode(grad_enabled() && options.create_graph);  // as jacobian_sq: a graph only with create_graph
    const Tensor row_sq = sum(square(lin->weight()), {1});  // [m]
    out.s = sum(square(out.z * (1.0 - out.z)) * row_sq, {1});
    return out;
  }

  JacobianPair pair;
  pair.x = out.x;
  if (plan.route == "gram") {
    Linear* lin = first_linear(model);
    GG_CHECK(lin, "contractive_source: route \"gram\" expects the mlp encoder to start Flatten, Linear");
    check_input(cfg, x);
    auto [first, code] = encode_through_first_linear(model, out.x);
    pair.h = first, pair.weight = lin->weight(), out.z = code;
  } else {
    out.z = model.encode(out.x);
  }
  out.y = of == JacobianOf::encoder ? out.z : reshape(model.decode(out.z), {x.size(0), -1});
  pair.y = out.y;
  out.s = jacobian_sq(pair, plan, options, &gen, &out.jacobian_rows);  // eq. 3 (for the encoder)
  return out;
}

Tensor contractive_penalty(Autoencoder& model, const Tensor& x, const PenaltyOptions& options, Generator& gen,
                           JacobianOf of) {
  return mean(contractive_source(model, x, options, gen, of).s);
}

// ---- The config's term ---------------------------------------------------------------------------------

void to_json(nlohmann::json& j, const ContractiveTerm& t) {
  j = {{"kind", "contractive"}, {"lambda", t.lambda}, {"of", jacobian_of_name(t.of)}, {"penalty", t.penalty}};
}

void from_json(const nlohmann::json& j, ContractiveTerm& out) {
  ConfigReader r(j, "regularizer");
  ContractiveTerm t;
  std::string kind = "contractive", of = jacobian_of_name(t.of);
  r.read_choice("kind", kind, {"contractive"});
  t.lambda = r.required<double>("lambda");
  if (!(t.lambda >= 0)) r.fail_at("lambda", "must be >= 0, got " + std::to_string(t.lambda));
  r.read_choice("of", of, {"encoder", "autoencoder"});
  t.of = of == "encoder" ? JacobianOf::encoder : JacobianOf::autoencoder;
  r.read("penalty", t.penalty);
  r.done();
  out = t;
}

Tensor contractive_term(Autoencoder& model, const Tensor& x, const ContractiveTerm& term, Generator& gen) {
  return term.lambda * contractive_penalty(model, x, term.penalty, gen, term.of);
}

}  // namespace gg
