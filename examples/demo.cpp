// The engine demo: a 2-D MLP learns to tell apart two interleaved half-moons, trained with a loss that
// holds a Jacobian penalty, so every step differentiates a derivative (double backward).
//
//   gg_demo [--epochs N] [--seed S] [--lambda L]
//
// Prints the loss, accuracy and penalty as they fall, and checks at the end that training helped.
#include <cmath>
#include <cstdio>
#include <string>

#include "engine/gradgrad.h"
#include "datasets/toy.h"
#include "models/optim.h"
#include "regularizers/jacobian_penalty.h"

using namespace gg;


int main(int argc, char** argv) {
  int epochs = 300;
  uint64_t seed = 0;
  double lambda = 1e-3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--epochs") epochs = std::stoi(argv[i + 1]);
    else if (a == "--seed") seed = std::stoull(argv[i + 1]);
    else if (a == "--lambda") lambda = std::stod(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: gg_demo [--epochs N] [--seed S] [--lambda L]\n");
      return 2;
    }
  }
  Generator gen(seed);
  const Dataset moons = two_moons({512, 0.1, seed});
  std::vector<double> one_hot(2 * moons.size(), 0.0);
  for (int64_t i = 0; i < moons.size(); ++i) one_hot[2 * i + moons.labels[i]] = 1.0;
  const Tensor y = Tensor::from_data(one_hot, {moons.size(), 2});
  Tensor x = moons.x.detach().requires_grad_();  // the penalty differentiates the network with respect to its input

  // 2 -> 32 -> 32 -> 2, tanh; weights uniform in +-1/sqrt(fan_in) as nn.Linear does.
  std::vector<Tensor> params;
  for (auto [in, out] : {std::pair{2, 32}, {32, 32}, {32, 2}}) {
    const double bound = 1.0 / std::sqrt(double(in));
    params.push_back((Tensor::rand({out, in}, gen) * (2 * bound) - bound).detach().requires_grad_());
    params.push_back((Tensor::rand({out}, gen) * (2 * bound) - bound).detach().requires_grad_());
  }
  auto net = [&](const Tensor& in) {
    Tensor h = tanh(linear(in, params[0], params[1]));
    h = tanh(linear(h, params[2], params[3]));
    return linear(h, params[4], params[5]);
  };
  Adam opt(params, {.lr = 1e-2});

  std::printf("two moons, 512 points; MLP 2-32-32-2 (tanh); loss = cross-entropy + %.0e * mean ||d logits/dx||_F^2\n",
              lambda);
  std::printf("%6s %12s %10s %12s\n", "epoch", "loss", "accuracy", "penalty");
  double first_loss = 0, last_loss = 0, accuracy = 0;
  for (int epoch = 0; epoch <= epochs; ++epoch) {
    Tensor logits = net(x);
    Tensor ce = -mean(sum(log_softmax(logits, 1) * y, {1}));
    Tensor penalty = mean(jacobian_sq({logits, x}));  // differentiable: its gradient is a second derivative
    Tensor loss = ce + penalty * lambda;
    opt.step(grad({loss}, params));
    {
      NoGradGuard off;
      accuracy = mean(eq(gt(slice(logits, 1, 0, 1), slice(logits, 1, 1, 2)), slice(y, 1, 0, 1))).item();
    }
    last_loss = loss.item();
    if (epoch == 0) first_loss = last_loss;
    if (epoch % 25 == 0) std::printf("%6d %12.6f %9.1f%% %12.4f\n", epoch, last_loss, 100 * accuracy, penalty.item());
  }
  const bool learned = last_loss < 0.5 * first_loss && accuracy > 0.9;
  std::printf("%s: loss %.4f -> %.4f, accuracy %.1f%%\n", learned ? "ok" : "FAILED", first_loss, last_loss,
              100 * accuracy);
  return learned ? 0 : 1;
}
