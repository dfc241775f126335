// Autograd on the GPU: gradcheck and gradgradcheck in f64 on cuda:0, a contractive autoencoder's forward,
// backward and double backward against the CPU, mixed-device refusal, the allocator's counters, and (with
// or without a GPU) the refusal of a device that cannot run. The kernels one by one are in test_cuda.cpp.
#include "models/autoencoder.h"
#include "regularizers/contractive.h"
#include "tests/device_helpers.h"
#include "tests/helpers.h"

using namespace gg;
using test::check_near;
using test::kGpu;

namespace {


// An f64 leaf on the GPU with the values of test::input.
Tensor gpu_input(const Shape& s, uint64_t seed, double lo = -1, double hi = 1, double gap = 0) {
  return test::input(s, seed, lo, hi, gap).detach().to(kGpu).requires_grad_();
}

}  // namespace

TEST_CASE("cuda: a device that cannot run is refused by name") {
  std::string why;
  if (cuda_available(&why)) {
    CHECK(has_backend(kGpu));
    CHECK_FALSE(has_backend(Device::cuda(1)));
    CHECK_THROWS_WITH_AS(backend_for(Device::cuda(1)), doctest::Contains("cuda:1"), Error);
    return;
  }
  // No GPU here (or no CUDA backend in this build): the refusal itself is what can be tested.
  CHECK_FALSE(has_backend(kGpu));
  CHECK_FALSE(why.empty());
#ifdef GG_WITH_CUDA
  CHECK_THROWS_WITH_AS(backend_for(kGpu), doctest::Contains("device cuda:0: no CUDA GPU is visible"), Error);
#else
  CHECK_THROWS_WITH_AS(backend_for(kGpu), doctest::Contains("built without its CUDA backend"), Error);
#endif
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::f32, kGpu), doctest::Contains("cuda:0"), Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}).to(kGpu), doctest::Contains("cuda:0"), Error);
}

TEST_CASE("cuda: an op on tensors of two devices is refused, naming both") {
  if (!test::device_or_skip(kGpu)) return;
  const Tensor a = Tensor::ones({3}), b = Tensor::ones({3}, DType::f32, kGpu);
  for (auto op : {+[](const Tensor& x, const Tensor& y) { return x + y; },
                  +[](const Tensor& x, const Tensor& y) { return matmul(x.reshape({1, 3}), y.reshape({3, 1})); },
                  +[](const Tensor& x, const Tensor& y) { return where(x, y, y); }}) {
    try {
      op(a, b);
      FAIL("no error for mixed devices");
    } catch (const Error& e) {
      const std::string m = e.what();
      CHECK_MESSAGE(m.find("cpu") != std::string::npos, m);
      CHECK_MESSAGE(m.find("cuda:0") != std::string::npos, m);
    }
  }
}

TEST_CASE("cuda: the caching allocator reuses freed blocks and counts its peak") {
  if (!test::device_or_skip(kGpu)) return;
  Backend& gpu = backend_for(kGpu);
  { Tensor warm = Tensor::empty({1 << 20}, DType::f32, kGpu); }  // one block of 4 MiB into the cache
  const size_t cached = gpu.cached_bytes();
  CHECK(cached >= (size_t{4} << 20));
  gpu.reset_peak_bytes();
  const size_t base = gpu.peak_bytes();
  {
    Tensor again = Tensor::empty({1 << 20}, DType::f32, kGpu);  // taken from the cache, not cudaMalloc
    CHECK(gpu.cached_bytes() == cached - (gpu.peak_bytes() - base));
    CHECK(gpu.peak_bytes() >= base + (size_t{4} << 20));
  }
  CHECK(gpu.cached_bytes() == cached);
}

TEST_CASE("cuda: gradcheck and gradgradcheck pass on the GPU in f64") {
  if (!test::device_or_skip(kGpu)) return;
  struct Case {
    std::string name;
    std::vector<Tensor> inputs;
    Function f;
  };
  const std::vector<Case> cases = {
      {"tanh(matmul)", {gpu_input({3, 4}, 1), gpu_input({4, 2}, 2)},
       [](const std::vector<Tensor>& x) { return tanh(matmul(x[0], x[1])); }},
      {"softplus * sigmoid broadcast", {gpu_input({3, 4}, 3), gpu_input({4}, 4)},
       [](const std::vector<Tensor>& x) { return softplus(x[0]) * sigmoid(x[1]); }},
      {"max and sum", {gpu_input({3, 5}, 5)},
       [](const std::vector<Tensor>& x) { return max(x[0], {1}) + sum(square(x[0]), {1}); }},
      {"conv2d", {gpu_input({1, 2, 5, 5}, 6), gpu_input({2, 2, 3, 3}, 7), gpu_input({2}, 8)},
       [](const std::vector<Tensor>& x) { return conv2d(x[0], x[1], x[2], 2, 1); }},
      {"log_softmax", {gpu_input({2, 5}, 9, -3, 3)},
       [](const std::vector<Tensor>& x) { return log_softmax(x[0], 1); }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const GradcheckResult first = gradcheck(c.f, c.inputs);
    CHECK_MESSAGE(first.ok, c.name << ": " << first.message);
    const GradcheckResult second = gradgradcheck(c.f, c.inputs);
    CHECK_MESSAGE(second.ok, c.name << ": " << second.message);
  }
}

TEST_CASE("cuda: a contractive MLP autoencoder's loss, gradient and double backward match the CPU") {
  if (!test::device_or_skip(kGpu)) return;
  AutoencoderConfig c;
  c.input_shape = {12};
  c.hidden = {16};
  c.code_dim = 4;
  c.dtype = DType::f64;
  c.seed = 5;
  Autoencoder on_cpu(c);
  c.device = kGpu;
  Autoencoder on_gpu(c);  // its parameters are drawn on the GPU, with the CPU's numbers
  REQUIRE(on_gpu.device() == kGpu);
  for (size_t i = 0; i < on_cpu.parameters().size(); ++i)
    check_near(on_gpu.parameters()[i], on_cpu.parameters()[i], 1e-13, 1e-15, "initial parameter");

  const Tensor x = test::input({8, 12}, 21).detach();
  PenaltyOptions o;
  o.method = "exact";
  // loss = reconstruction + 0.1 * ||J_E||_F^2; then the gradient's squared norm, differentiated again.
  auto run = [&](Autoencoder& ae, const Tensor& xs) {
    Generator gen(3);
    const Tensor loss = mse(ae.forward(xs), xs) + 0.1 * contractive_penalty(ae, xs, o, gen);
    GradOptions keep;
    keep.create_graph = true;
    const std::vector<Tensor> g = grad({loss}, ae.parameters(), {}, keep);
    Tensor g2 = sum(square(g[0]));
    for (size_t i = 1; i < g.size(); ++i) g2 = g2 + sum(square(g[i]));
    std::vector<Tensor> out = {loss, g2};
    for (const Tensor& gi : g) out.push_back(gi);
    for (const Tensor& hi : grad({g2}, ae.parameters())) out.push_back(hi);
    return out;
  };
  const std::vector<Tensor> want = run(on_cpu, x), got = run(on_gpu, x.to(kGpu));
  REQUIRE(want.size() == got.size());
  for (size_t i = 0; i < want.size(); ++i) check_near(got[i], want[i], 1e-10, 1e-12, "result " + std::to_string(i));
}
