// The CPU kernels give the same bits however many threads run them: how a loop, a sum, a product or a
// convolution is cut into pieces depends on its sizes and on the thread count work is cut for (--threads),
// never on how many threads a parallel region starts. So the engine may start fewer threads while another
// process holds a core (engine/threads.h, parallel_threads) and change no number. Random data, so that any
// change in the order of a sum shows in the last bits; sizes above the parallel grains of loops.h.
#include <functional>

#include "models/training.h"
#include "regularizers/regularizer.h"
#include "tests/helpers.h"

using namespace gg;

namespace {

// Work cut for three threads, run by one, two and three (three: splits that are not halves); every output
// must be the same. The load is not followed here, so that the cap alone sets how many threads run.
void check_same_on_any_thread_count(const std::function<std::vector<Tensor>()>& compute) {
  const int before = num_threads();
  set_num_threads(3);
  set_adaptive_threads(false);
  cap_parallel_threads(1);
  const std::vector<Tensor> one = compute();
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    cap_parallel_threads(threads);
    const std::vector<Tensor> other = compute();
    REQUIRE(other.size() == one.size());
    for (size_t i = 0; i < one.size(); ++i) {
      CAPTURE(i);
      CHECK(other[i].to_vector() == one[i].to_vector());
    }
  }
  cap_parallel_threads(0);
  set_adaptive_threads(true);
  set_num_threads(before);
}

Tensor random_normal(const Shape& shape, uint64_t seed, DType t = DType::f32) {
  Generator gen(seed);
  return Tensor::randn(shape, gen, t);
}

}  // namespace

TEST_CASE("thread count invariance: elementwise transcendental ops on a long odd-sized vector") {
  for (DType t : {DType::f32, DType::f64}) {
    CAPTURE(t);
    const Tensor x = random_normal({1000003}, 1, t);
    check_same_on_any_thread_count([&] {
      return std::vector<Tensor>{exp(x), tanh(x), sigmoid(x), log(abs(x) + 0.5), sin(x), x * x + x};
    });
  }
}

TEST_CASE("thread count invariance: sums over everything, over rows and over columns") {
  for (DType t : {DType::f32, DType::f64}) {
    CAPTURE(t);
    const Tensor flat = random_normal({1000003}, 2, t);
    const Tensor mid = random_normal({40000}, 3, t);  // between one partial's size and two
    const Tensor m = random_normal({3001, 333}, 4, t);
    check_same_on_any_thread_count([&] {
      return std::vector<Tensor>{sum(flat), sum(mid), sum(m, {0}), sum(m, {1}), softmax(m, 1)};
    });
  }
}

TEST_CASE("thread count invariance: matrix products cut into pieces, tall, wide and square") {
  struct Sizes {
    int64_t m, n, k;
  };
  for (Sizes s : {Sizes{1100, 37, 301}, Sizes{37, 1100, 301}, Sizes{1024, 512, 256}, Sizes{4096, 64, 288}}) {
    CAPTURE(s.m);
    CAPTURE(s.n);
    const Tensor a = random_normal({s.m, s.k}, 5), b = random_normal({s.k, s.n}, 6);
    const Tensor at = random_normal({s.k, s.m}, 7), bt = random_normal({s.n, s.k}, 8);
    check_same_on_any_thread_count([&] {
      return std::vector<Tensor>{matmul(a, b), matmul(at, b, true, false), matmul(a, bt, false, true)};
    });
  }
}

TEST_CASE("thread count invariance: regions large enough to run on every thread while cores are held") {
  // While fewer threads than the count are free (the cap), a region of 2 GFLOP or more runs on all of them
  // anyway, each held on a core (loops.h, plan_region): a product of 2.04 GFLOP cut into 12 pieces of 512
  // rows, and a convolution and its weight's gradient over 1024 samples (2.4 GFLOP each), whose gradient
  // sums 24 runs of chunks. The same bits as on one thread.
  const Tensor a = random_normal({6144, 2600}, 16), b = random_normal({2600, 64}, 17);
  const Tensor x = random_normal({1024, 32, 16, 16}, 18), w = random_normal({64, 32, 3, 3}, 19);
  const Tensor y = random_normal({1024, 64, 8, 8}, 20);
  check_same_on_any_thread_count([&] {
    return std::vector<Tensor>{matmul(a, b), conv2d(x, w, {}, 2, 1), conv2d_weight_grad(y, x, 3, 3, 2, 1)};
  });
}

TEST_CASE("thread count invariance: the fused convolutions, their transposes and weight gradients") {
  // Table 3's second layer (32 -> 64 channels, 3x3, stride 2) on a batch of 64, and the same with 8 batched
  // cotangents in front (the exact Jacobian penalty's backward pass), whose weight gradient sums over chunks.
  const Tensor x = random_normal({64, 32, 16, 16}, 9), w = random_normal({64, 32, 3, 3}, 10);
  const Tensor y = random_normal({64, 64, 8, 8}, 11), y_lead = random_normal({8, 64, 64, 8, 8}, 12);
  const Tensor x_big = random_normal({64, 1, 64, 64}, 13), w_big = random_normal({32, 1, 3, 3}, 14);
  const Tensor y_big = random_normal({8, 64, 32, 32, 32}, 15);
  check_same_on_any_thread_count([&] {
    return std::vector<Tensor>{conv2d(x, w, {}, 2, 1),
                               conv_transpose2d(y, w, {}, 2, 1, 1),
                               conv_transpose2d(y_lead, w, {}, 2, 1, 1),
                               conv2d_weight_grad(y, x, 3, 3, 2, 1),
                               conv2d_weight_grad(y_lead, x, 3, 3, 2, 1),
                               conv2d_weight_grad(y_big, x_big, 3, 3, 2, 1)};
  });
}

TEST_CASE("thread count invariance: training a conv autoencoder, plain and with the exact Jacobian penalty") {
  // Every op of a training step (forward, backward, the penalty's double backward, Adam, the test error),
  // at sizes where the elementwise ops and sums run in parallel.
  for (bool penalty : {false, true}) {
    CAPTURE(penalty);
    nlohmann::json config = nlohmann::json::parse(R"({
      "seed": 0,
      "data": {"name": "mnist", "limit": 128, "test_limit": 64},
      "model": {"arch": "conv", "width": 32, "code_dim": 8, "activation": "relu", "output_activation": "sigmoid"},
      "variant": {"kind": "plain"},
      "optimizer": {"name": "adam", "lr": 5e-4},
      "training": {"epochs": 1, "batch_size": 64}
    })");
    if (penalty)
      config["regularizer"] = {{"kind", "contractive"}, {"lambda", 0.01}, {"penalty", {{"method", "exact"}}}};
    check_same_on_any_thread_count([&] {
      Trainer trainer(config, make_regularizer_loss);
      const EpochRecord r = trainer.train_epoch();
      return std::vector<Tensor>{Tensor::from_data({r.loss, r.reconstruction, r.test_mse}, {3}, DType::f64)};
    });
  }
}
