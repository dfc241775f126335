// The cases of `gradgrad bench jacobian` (bench/jacobian_bench.h) and one case's measurement.
#include <algorithm>
#include <cmath>

#include "bench/jacobian_bench.h"
#include "bench/timing.h"
#include "engine/backend/backend.h"
#include "models/optim.h"
#include "models/variants.h"
#include "regularizers/poisson.h"

namespace gg {

namespace {

using json = nlohmann::json;

AutoencoderConfig mlp_model(int64_t d, int64_t h, int64_t m) {
  AutoencoderConfig c;
  c.input_shape = {d};
  c.hidden = {h};
  c.code_dim = m;
  c.activation = "tanh";  // gg_bench's autoencoder: tanh on both encoder layers, linear output
  c.code_activation = "tanh";
  return c;
}

AutoencoderConfig one_layer_sigmoid(const AutoencoderConfig& like) {
  AutoencoderConfig c = like;
  c.hidden = {};
  c.code_activation = "sigmoid";
  return c;
}

AutoencoderConfig conv_model() {  // configs/mnist/conv.json's model
  AutoencoderConfig c;
  c.arch = "conv";
  c.input_shape = {1, 28, 28};
  c.width = 32;
  c.code_dim = 32;
  c.activation = "relu";
  c.output_activation = "sigmoid";
  return c;
}

// The rows of one size: every method that applies.
void add_size(std::vector<JacobianCase>& out, const std::string& group, const std::string& size,
              const AutoencoderConfig& model, int64_t batch, const std::string& data,
              const std::vector<std::string>& methods, int repeats, int warmup) {
  for (const std::string& method : methods) {
    JacobianCase c;
    c.group = group, c.size = size, c.method = method, c.model = model, c.batch = batch, c.data = data;
    c.repeats = repeats, c.warmup = warmup;
    c.plain_of = "plain";
    c.peer_method = method;
    if (method == "exact-loop" || method == "exact-reverse" || method == "exact-forward" || method == "exact-gram") {
      c.penalty.method = "exact";
      c.penalty.route = method.substr(6);
      if (method != "exact-loop") c.peer_method = "exact";
    } else if (method.rfind("hutchinson-", 0) == 0) {
      c.penalty.method = "hutchinson";
      c.penalty.probes = c.probes = std::stoll(method.substr(11));
      c.peer_method = "hutchinson";
    } else if (method == "closed-form" || method == "plain-1layer") {
      c.model = one_layer_sigmoid(model);
      c.penalty.method = "closed_form";
      c.plain_of = "plain-1layer";
      if (method == "plain-1layer") c.peer_method = "plain";
    }
    if (c.poisson()) c.peer_method.clear();
    if (!c.peer_method.empty())
      c.peer = size + "/" + (method == "plain-1layer" ? "plain-1layer" : c.peer_method) +
               (c.probes ? "-" + std::to_string(c.probes) : "");
    out.push_back(c);
  }
}

Tensor case_loss(const JacobianCase& c, Autoencoder& model, const Tensor& x, Generator& gen) {
  if (c.method == "plain" || c.method == "plain-1layer") {
    VariantConfig v;
    v.kind = "plain";
    return variant_loss(model, x, v, gen).total;
  }
  if (c.method == "weight-decay") {
    VariantConfig v;
    v.kind = "weight_decay";
    v.lambda = kBenchWeightDecay;
    return variant_loss(model, x, v, gen).total;
  }
  if (c.poisson()) return poisson_objective(model, x, poisson_case_options(c), gen).total;
  const ContractiveSource src = contractive_source(model, x, c.penalty, gen);
  return mse(model.decode(src.z), x) + kBenchPenaltyWeight * mean(src.s);
}

}  // namespace

const std::vector<std::string>& jacobian_bench_groups() {
  static const std::vector<std::string> groups = {"toy", "mlp32", "mlp128", "conv", "scale-m", "scale-batch"};
  return groups;
}

std::vector<JacobianCase> jacobian_cases(const std::set<std::string>& groups, bool quick, int repeats, int warmup,
                                         Device device) {
  for (const std::string& g : groups)
    GG_CHECK(std::count(jacobian_bench_groups().begin(), jacobian_bench_groups().end(), g),
             "bench jacobian: unknown case group '" + g + "' (known: toy, mlp32, mlp128, conv, scale-m, scale-batch)");
  std::vector<JacobianCase> cases;
  const std::vector<std::string> mlp = {"plain",        "weight-decay", "exact-loop",   "exact-reverse",
                                        "exact-gram",   "hutchinson-1", "hutchinson-4", "closed-form",
                                        "plain-1layer", "poisson",      "poisson-exact"};
  if (groups.count("toy")) {
    std::vector<std::string> toy = mlp;
    toy.insert(toy.begin() + 4, "exact-forward");
    add_size(cases, "toy", "toy", mlp_model(2, 64, 2), 256, "randn", toy, repeats, warmup);
  }
  if (groups.count("mlp32")) add_size(cases, "mlp32", "mlp32", mlp_model(784, 512, 32), 128, "rand", mlp, repeats, warmup);
  if (groups.count("mlp128")) {
    std::vector<std::string> methods = mlp;
    if (quick) methods.erase(methods.begin() + 2);  // the 128-pass loop
    add_size(cases, "mlp128", "mlp128", mlp_model(784, 512, 128), 128, "rand", methods, repeats, warmup);
  }
  if (groups.count("conv")) {
    const std::vector<std::string> methods =
        quick ? std::vector<std::string>{"plain", "exact-reverse", "hutchinson-1"}
              : std::vector<std::string>{"plain", "weight-decay", "exact-loop", "exact-reverse", "hutchinson-1",
                                         "hutchinson-4", "poisson"};
    add_size(cases, "conv", "conv", conv_model(), 64, "rand", methods, quick ? 1 : std::min(repeats, 5),
             std::min(warmup, 1));
  }
  const std::vector<std::string> scaling = {"plain", "exact-reverse", "exact-gram"};
  const int scale_repeats = quick ? std::min(repeats, 2) : repeats;
  if (groups.count("scale-m"))
    for (int64_t m : quick ? std::vector<int64_t>{8, 64} : std::vector<int64_t>{8, 16, 32, 64, 128, 256})
      add_size(cases, "scale-m", "m=" + std::to_string(m), mlp_model(784, 512, m), 128, "rand", scaling,
               scale_repeats, warmup);
  if (groups.count("scale-batch"))
    for (int64_t b : quick ? std::vector<int64_t>{32, 256} : std::vector<int64_t>{32, 64, 128, 256, 512})
      add_size(cases, "scale-batch", "B=" + std::to_string(b), mlp_model(784, 512, 32), b, "rand", scaling,
               scale_repeats, warmup);
  for (JacobianCase& c : cases) c.model.device = device;  // the parameters are made there, the data too
  return cases;
}

PoissonOptions poisson_case_options(const JacobianCase& c) {
  PoissonOptions o;
  o.eps = default_kernel_eps(c.model.code_dim, c.model.dtype);  // 1e-2 overflows f32 for codes over 16 wide
  if (c.method == "poisson-exact") o.source.method = "exact";
  return o;
}

json run_jacobian_case(const JacobianCase& c) {
  const bool reset = bench::reset_peak_rss();
  const double rss_start = bench::proc_status_kb("VmRSS") / 1024.0;
  Backend& backend = backend_for(c.model.device);
  backend.reset_peak_bytes();

  Autoencoder model(c.model);
  Adam opt(model.parameters());
  Generator data_gen(2), gen(7);
  Shape shape{c.batch};
  shape.insert(shape.end(), c.model.input_shape.begin(), c.model.input_shape.end());
  const Device d = c.model.device;
  const Tensor x = c.data == "randn" ? Tensor::randn(shape, data_gen, DType::f32, d)
                                     : Tensor::rand(shape, data_gen, DType::f32, d);
  const std::vector<Tensor> params = model.parameters();
  double loss_value = 0;
  auto step = [&] {
    const Tensor loss = case_loss(c, model, x, gen);
    opt.step(grad({loss}, params));
    loss_value = loss.item();
    backend.synchronize();  // the step's kernels are done before a timer stops (a no-op on the CPU)
  };
  json out = bench::time_training_step(step, c.repeats, c.warmup);
  // A step whose loss or weights overflowed times NaN arithmetic, not the method (a NaN weight reaches the
  // last step's loss).
  GG_CHECK(std::isfinite(loss_value), "bench jacobian: " + c.size + " " + c.method + ": the loss became " +
                                          std::to_string(loss_value) + " after " +
                                          std::to_string(c.warmup + c.repeats) + " steps");
  const double rss_peak = bench::peak_rss_kb() / 1024.0;
  out.update({{"rss_start_mb", rss_start}, {"rss_peak_mb", rss_peak}, {"rss_growth_mb", rss_peak - rss_start},
              {"rss_reset", reset}, {"tensor_peak_mb", backend.peak_bytes() / 1048576.0}, {"loss", loss_value}});
  return out;
}

}  // namespace gg
