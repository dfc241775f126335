// Optimizers against hand-computed updates, schedules, clipping, configs that are refused, and state that
// round-trips so a resumed run continues to the same numbers.
#include <nlohmann/json.hpp>

#include "models/optim.h"
#include "tests/helpers.h"

using namespace gg;
using nlohmann::json;

namespace {
Tensor param(std::vector<double> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_data(v, {n}, DType::f64).requires_grad_();
}
Tensor vec(std::vector<double> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_data(v, {n}, DType::f64);
}
}  // namespace

TEST_CASE("SGD with momentum and weight decay follows buf = mu buf + g + wd p, p -= lr buf") {
  Tensor p = param({1.0, -2.0});
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  opt.step({vec({0.5, 1.0})});
  // g1 = (0.5 + 0.01, 1 - 0.02) = (0.51, 0.98); p = (1 - 0.051, -2 - 0.098)
  test::check_values(p, {0.949, -2.098}, 1e-12);
  opt.step({vec({0.5, 1.0})});
  // g2 = (0.5 + 0.00949, 1 - 0.02098); buf = 0.9 * buf1 + g2
  const double b0 = 0.9 * 0.51 + 0.50949, b1 = 0.9 * 0.98 + 0.97902;
  test::check_values(p, {0.949 - 0.1 * b0, -2.098 - 0.1 * b1}, 1e-12);
  CHECK(opt.steps_taken() == 2);
}

TEST_CASE("Adam's first step moves each coordinate by lr against its gradient's sign, AdamW decays apart") {
  Tensor p = param({1.0, -1.0});
  Adam adam({p}, {.lr = 0.01});
  adam.step({vec({3.0, -0.2})});
  test::check_values(p, {0.99, -0.99}, 1e-6);
  Tensor q = param({2.0});
  Adam adamw({q}, {.lr = 0.1, .weight_decay = 0.5, .decoupled_weight_decay = true});
  adamw.step({vec({0.0})});  // no gradient: only the decoupled decay p -= lr * wd * p
  test::check_values(q, {2.0 * (1 - 0.05)}, 1e-12);
}

TEST_CASE("optimizer state round-trips: a restored optimizer continues to the same numbers") {
  Tensor a = param({0.3, 0.7}), b = param({0.3, 0.7});
  Adam first({a}, {.lr = 0.05});
  for (int i = 0; i < 3; ++i) first.step({vec({0.1 * i + 0.2, -0.3})});
  b.copy_(a.detach());
  Adam second({b}, {.lr = 0.05});
  auto saved = first.state();
  for (auto& [kind, tensors] : saved)
    for (auto& t : tensors) t = t.clone();
  second.load_state(saved, first.steps_taken());
  first.step({vec({0.9, 0.4})});
  second.step({vec({0.9, 0.4})});
  CHECK(test::max_abs_diff(a, b) == 0.0);
  SGD sgd({b}, {.lr = 0.1});
  CHECK_THROWS_WITH_AS(sgd.load_state(saved, 3), doctest::Contains("expected 1 buffer kinds"), Error);
}

TEST_CASE("make_optimizer builds from config and refuses unknown names, keys and values") {
  Tensor p = param({1.0});
  CHECK(make_optimizer(json{{"name", "sgd"}, {"lr", 0.5}, {"momentum", 0.9}}, {p})->lr() == 0.5);
  CHECK(make_optimizer(json{{"name", "adamw"}}, {p})->state().size() == 2);
  CHECK_THROWS_WITH_AS(make_optimizer(json{{"name", "rmsprop"}}, {p}), doctest::Contains("unknown optimizer 'rmsprop'"),
                       Error);
  CHECK_THROWS_WITH_AS(make_optimizer(json{{"name", "adam"}, {"momentum", 0.9}}, {p}),
                       doctest::Contains("unknown key 'momentum'"), Error);
  CHECK_THROWS_WITH_AS(make_optimizer(json{{"name", "adam"}, {"lr", "fast"}}, {p}),
                       doctest::Contains("optimizer.lr: expected a number"), Error);
  CHECK_THROWS_WITH_AS(make_optimizer(json{{"name", "sgd"}, {"lr", -1}}, {p}), doctest::Contains("lr must be positive"),
                       Error);
}

TEST_CASE("learning-rate schedules: step and linear, as PyTorch's StepLR and LinearLR") {
  const LrSchedule step = LrSchedule::from_json(json{{"kind", "step"}, {"step_size", 10}, {"gamma", 0.5}}, 100);
  CHECK(step.lr_at(1.0, 0) == 1.0);
  CHECK(step.lr_at(1.0, 9) == 1.0);
  CHECK(step.lr_at(1.0, 10) == 0.5);
  CHECK(step.lr_at(1.0, 25) == 0.25);
  const LrSchedule linear = LrSchedule::from_json(json{{"kind", "linear"}, {"end_factor", 0.1}}, 10);
  CHECK(linear.lr_at(2.0, 0) == doctest::Approx(2.0));
  CHECK(linear.lr_at(2.0, 5) == doctest::Approx(2.0 * 0.55));
  CHECK(linear.lr_at(2.0, 20) == doctest::Approx(0.2));
  CHECK_THROWS_WITH_AS(LrSchedule::from_json(json{{"kind", "cosine"}}, 10), doctest::Contains("schedule.kind: expected one of"),
                       Error);
}

TEST_CASE("clip_grad_norm scales to the global norm and reports the norm before") {
  std::vector<Tensor> g = {vec({3.0}), vec({4.0})};
  CHECK(clip_grad_norm(g, 1.0) == doctest::Approx(5.0));
  test::check_values(g[0], {0.6}, 1e-9);
  test::check_values(g[1], {0.8}, 1e-9);
  std::vector<Tensor> small = {vec({0.1})};
  clip_grad_norm(small, 1.0);
  test::check_values(small[0], {0.1}, 1e-15);
}
