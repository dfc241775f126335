// gg_libtorch_peer: the cases of `gradgrad bench jacobian` written against LibTorch (Debian's libtorch-dev),
// the peer a C++ user would reach for instead of gradgrad. The harness writes the case list and runs this
// program as it runs bench/torch_jacobian.py (same arguments, same JSON out), so the two peers are the same
// models, losses and measurements in two front ends of one library:
//
//   gg_libtorch_peer --cases FILE --json FILE --threads N
//
// Layers and losses follow bench/torch_jacobian.py line for line. The exact penalty is the loop over code
// units (LibTorch 1.13's C++ autograd has neither is_grads_batched nor vmap), Hutchinson a loop over its
// probes. Each case runs in a forked child (run_in_child), timed as ours are (bench/timing.h).
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/jacobian_bench.h"
#include "bench/timing.h"

namespace {

using json = nlohmann::json;

torch::nn::AnyModule activation(const std::string& spec) {
  if (spec.rfind("leaky_relu", 0) == 0) {
    const size_t open = spec.find('(');
    const double slope = open == std::string::npos ? 0.01 : std::stod(spec.substr(open + 1));
    return torch::nn::AnyModule(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(slope)));
  }
  if (spec == "identity") return torch::nn::AnyModule(torch::nn::Identity());
  if (spec == "relu") return torch::nn::AnyModule(torch::nn::ReLU());
  if (spec == "sigmoid") return torch::nn::AnyModule(torch::nn::Sigmoid());
  if (spec == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (spec == "softplus") return torch::nn::AnyModule(torch::nn::Softplus());
  if (spec == "silu") return torch::nn::AnyModule(torch::nn::SiLU());
  if (spec == "gelu") return torch::nn::AnyModule(torch::nn::GELU());
  throw std::runtime_error("libtorch peer: unknown activation '" + spec + "'");
}

struct Model {
  torch::nn::Sequential encoder, decoder;
  torch::nn::Linear first_linear{nullptr};  // the closed form's W (an MLP's first layer)
};

// The layers of models/autoencoder.h, as bench/torch_jacobian.py's build().
Model build(const json& cfg) {
  const std::string act = cfg.value("activation", "relu"), code_act = cfg.value("code_activation", "identity"),
                    out_act = cfg.value("output_activation", "identity");
  const int64_t k = cfg["code_dim"];
  const std::vector<int64_t> shape = cfg["input_shape"];
  Model m;
  if (cfg.value("arch", "mlp") == "mlp") {
    int64_t d = 1;
    for (int64_t s : shape) d *= s;
    std::vector<int64_t> widths{d};
    for (int64_t h : cfg.value("hidden", std::vector<int64_t>{64})) widths.push_back(h);
    m.encoder->push_back(torch::nn::Flatten());
    for (size_t i = 0; i < widths.size(); ++i) {
      const bool last = i + 1 == widths.size();
      torch::nn::Linear layer(widths[i], last ? k : widths[i + 1]);
      if (i == 0) m.first_linear = layer;
      m.encoder->push_back(layer);
      m.encoder->push_back(activation(last ? code_act : act));
    }
    for (size_t i = widths.size(); i-- > 0;) {
      const bool first = i + 1 == widths.size();
      m.decoder->push_back(torch::nn::Linear(first ? k : widths[i + 1], widths[i]));
      m.decoder->push_back(activation(i == 0 ? out_act : act));
    }
    m.decoder->push_back(torch::nn::Unflatten(torch::nn::UnflattenOptions(1, shape)));
    return m;
  }
  const int64_t c = shape[0], h = shape[1], w = shape[2], wd = cfg.value("width", 32);
  auto pad = [](int64_t n) { const int64_t extra = (16 - n % 16) % 16; return std::pair{extra / 2, extra - extra / 2}; };
  const auto [pt, pb] = pad(h);
  const auto [pl, pr] = pad(w);
  const int64_t gh = (h + pt + pb) / 16, gw = (w + pl + pr) / 16;
  const std::vector<int64_t> ch{c, wd, 2 * wd, 4 * wd, 8 * wd};
  m.encoder->push_back(torch::nn::ZeroPad2d(torch::nn::ZeroPad2dOptions({pl, pr, pt, pb})));
  for (size_t i = 0; i < 4; ++i) {
    m.encoder->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(ch[i], ch[i + 1], 3).stride(2).padding(1)));
    m.encoder->push_back(activation(act));
  }
  m.encoder->push_back(torch::nn::Flatten());
  m.encoder->push_back(torch::nn::Linear(8 * wd * gh * gw, k));
  m.encoder->push_back(activation(code_act));
  m.decoder->push_back(torch::nn::Linear(k, 8 * wd * gh * gw));
  m.decoder->push_back(activation(act));
  m.decoder->push_back(torch::nn::Unflatten(torch::nn::UnflattenOptions(1, {8 * wd, gh, gw})));
  for (size_t i = 4; i > 0; --i) {
    m.decoder->push_back(torch::nn::ConvTranspose2d(
        torch::nn::ConvTranspose2dOptions(ch[i], ch[i - 1], 3).stride(2).padding(1).output_padding(1)));
    m.decoder->push_back(activation(i == 1 ? out_act : act));
  }
  m.decoder->push_back(torch::nn::ZeroPad2d(torch::nn::ZeroPad2dOptions({-pl, -pr, -pt, -pb})));  // the crop
  return m;
}

// sum over code units of ||dz_k/dx||^2, one backward pass per unit, over the batch.
torch::Tensor penalty_loop(const torch::Tensor& x, const torch::Tensor& z) {
  torch::Tensor total = torch::zeros({}, x.options());
  for (int64_t k = 0; k < z.size(1); ++k) {
    const torch::Tensor g = torch::autograd::grad({z.select(1, k).sum()}, {x}, {}, true, true)[0];
    total = total + g.pow(2).sum();
  }
  return total / x.size(0);
}

torch::Tensor penalty_hutchinson(const torch::Tensor& x, const torch::Tensor& z, int64_t probes) {
  torch::Tensor total = torch::zeros({}, x.options());
  for (int64_t p = 0; p < probes; ++p) {
    const torch::Tensor u = torch::randint(0, 2, z.sizes(), z.options()) * 2 - 1;
    const torch::Tensor g = torch::autograd::grad({z}, {x}, {u}, true, true)[0];
    total = total + g.pow(2).sum();
  }
  return total / (probes * x.size(0));
}

torch::Tensor case_loss(const json& c, Model& m, const torch::Tensor& batch) {
  const std::string method = c["method"];
  const double lambda = c["lambda"];
  if (method == "plain" || method == "weight-decay") {
    torch::Tensor l = (m.decoder->forward(m.encoder->forward(batch)) - batch).pow(2).mean();
    if (method == "weight-decay")
      for (auto* seq : {&m.encoder, &m.decoder})
        for (const auto& p : (*seq)->named_parameters())
          if (p.key().size() >= 6 && p.key().substr(p.key().size() - 6) == "weight")
            l = l + c["weight_decay"].get<double>() * p.value().pow(2).sum();
    return l;
  }
  const torch::Tensor x = batch.detach().requires_grad_(true);
  const torch::Tensor z = m.encoder->forward(x);
  const torch::Tensor rec = (m.decoder->forward(z) - x).pow(2).mean();
  if (method == "closed-form") {
    const torch::Tensor w2 = m.first_linear->weight.pow(2).sum(1);
    return rec + lambda * ((z * (1 - z)).pow(2) * w2).sum(1).mean();
  }
  if (method == "hutchinson") return rec + lambda * penalty_hutchinson(x, z, c["probes"]);
  if (method == "exact" || method == "exact-loop") return rec + lambda * penalty_loop(x, z);
  throw std::runtime_error("libtorch peer: unknown method '" + method + "'");
}

json run_case(const json& c, int threads) {
  torch::set_num_threads(threads);
  const bool reset = gg::bench::reset_peak_rss();
  const double rss_start = gg::bench::proc_status_kb("VmRSS") / 1024.0;
  torch::manual_seed(0);
  Model m = build(c["model"]);
  std::vector<torch::Tensor> params = m.encoder->parameters();
  for (const torch::Tensor& p : m.decoder->parameters()) params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(1e-3));
  std::vector<int64_t> shape{c["batch"].get<int64_t>()};
  for (int64_t s : c["model"]["input_shape"]) shape.push_back(s);
  const torch::Tensor x = c["data"] == "randn" ? torch::randn(shape) : torch::rand(shape);
  double loss_value = 0;
  auto step = [&] {
    opt.zero_grad();
    const torch::Tensor l = case_loss(c, m, x);
    l.backward();
    opt.step();
    loss_value = l.item<double>();
  };
  json out = gg::bench::time_training_step(step, c["repeats"], c["warmup"]);
  const double peak = gg::bench::peak_rss_kb() / 1024.0;
  const std::string method = c["method"];
  out.update({{"rss_start_mb", rss_start}, {"rss_peak_mb", peak}, {"rss_growth_mb", peak - rss_start},
              {"rss_reset", reset}, {"loss", loss_value},
              {"way", method == "exact" || method == "exact-loop" ? "loop" : "autograd"}});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cases_path, json_path;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--cases") cases_path = argv[i + 1];
    else if (a == "--json") json_path = argv[i + 1];
    else if (a == "--threads") threads = std::stoi(argv[i + 1]);
  }
  if (cases_path.empty() || json_path.empty()) {
    std::fprintf(stderr, "usage: gg_libtorch_peer --cases FILE --json FILE [--threads N]\n");
    return 2;
  }
  std::ifstream in(cases_path);
  const json cases = json::parse(in);
  json out = {{"peer", "libtorch"}, {"torch_version", TORCH_VERSION}, {"threads", threads}, {"cases", json::object()}};
  for (const json& c : cases) {
    const json r = gg::run_in_child([&] { return run_case(c, threads); });
    std::fprintf(stderr, "libtorch %s: %s\n", c["key"].get<std::string>().c_str(),
                 r.contains("error") ? r["error"].get<std::string>().c_str()
                                     : (std::to_string(r["median_ms"].get<double>()) + " ms").c_str());
    out["cases"][c["key"].get<std::string>()] = r;
  }
  std::ofstream(json_path) << out.dump(2);
  return 0;
}
