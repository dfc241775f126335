// One table of ops drives the first- and second-order gradient checks: adding an op adds one row. The
// table runs on the device GG_TEST_DEVICE names (cpu by default; cuda on a GPU machine, scripts/gpu-check).
#include <functional>

#include "tests/device_helpers.h"
#include "tests/helpers.h"

using namespace gg;
using gg::test::input;

namespace {

struct OpCase {
  std::string name;
  std::function<std::vector<Tensor>()> make_inputs;
  Function f;
};

const Tensor& a0(const std::vector<Tensor>& x) { return x[0]; }

std::vector<OpCase> op_table() {
  auto one = [](Shape s, double lo = -1, double hi = 1, double gap = 0) {
    return [=] { return std::vector<Tensor>{input(s, 1, lo, hi, gap)}; };
  };
  auto two = [](Shape a, Shape b, double lo = -1, double hi = 1, double gap = 0) {
    return [=] { return std::vector<Tensor>{input(a, 2, lo, hi, gap), input(b, 3, lo, hi, gap)}; };
  };
  auto u = [](Tensor (*op)(const Tensor&)) { return Function([op](const std::vector<Tensor>& x) { return op(x[0]); }); };
  auto b = [](Tensor (*op)(const Tensor&, const Tensor&)) {
    return Function([op](const std::vector<Tensor>& x) { return op(x[0], x[1]); });
  };
  std::vector<OpCase> t = {
      // Unary primitives.
      {"neg", one({3, 4}), u(neg)},
      {"exp", one({3, 4}), u(exp)},
      {"log", one({3, 4}, 0.5, 2), u(log)},
      {"sqrt", one({3, 4}, 0.5, 2), u(sqrt)},
      {"abs", one({3, 4}, -1, 1, 0.1), u(abs)},
      {"tanh", one({3, 4}, -2, 2), u(tanh)},
      {"sigmoid", one({3, 4}, -3, 3), u(sigmoid)},
      {"relu", one({3, 4}, -1, 1, 0.1), u(relu)},
      {"sin", one({3, 4}, -3, 3), u(sin)},
      {"cos", one({3, 4}, -3, 3), u(cos)},
      {"erf", one({3, 4}, -2, 2), u(erf)},
      {"sinh", one({3, 4}, -2, 2), u(sinh)},
      // Binary primitives, with broadcasting on both sides.
      {"add broadcast", two({3, 4}, {4}), b(add)},
      {"sub broadcast both", two({2, 1, 3}, {4, 3}), b(sub)},
      {"mul broadcast", two({3, 4}, {3, 1}), b(mul)},
      // mul_consuming writes over its first operand here: a fresh product with no other handle, times a
      // constant that needs no gradient (relu's rule). The same derivatives as mul, to every order.
      {"mul_consuming over a fresh product", one({3, 4}),
       [](const std::vector<Tensor>& x) {
         const Tensor mask = Tensor::from_data({1, 0, 2, -1}, {4}, DType::f64, x[0].device());
         return mul_consuming(x[0] * 2.0, mask);
       }},
      {"div broadcast", two({3, 4}, {4}, 0.5, 2), b(div)},
      {"pow", two({3, 4}, {4}, 0.5, 2), b(pow)},
      {"maximum broadcast", two({3, 4}, {1, 4}, -1, 1, 0.05), b(maximum)},
      {"where", two({3, 4}, {4}),
       [](const std::vector<Tensor>& x) {
         Tensor cond = Tensor::from_data({1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1}, {3, 4}, DType::f64, x[0].device());
         return where(cond, x[0], x[1]);
       }},
      // Reductions.
      {"sum axis 0", one({3, 4}), [](auto& x) { return sum(a0(x), {0}); }},
      {"sum axes 0,2 keepdim", one({2, 3, 4}), [](auto& x) { return sum(a0(x), {0, 2}, true); }},
      {"sum all", one({2, 3, 4}), [](auto& x) { return sum(a0(x)); }},
      {"sum middle axis", one({2, 3, 4}), [](auto& x) { return sum(a0(x), {1}); }},
      {"max axis 1", one({3, 5}), [](auto& x) { return max(a0(x), {1}); }},
      {"max all", one({2, 3, 2}), [](auto& x) { return max(a0(x)); }},
      {"max axes 0,2 keepdim", one({2, 3, 2}), [](auto& x) { return max(a0(x), {0, 2}, true); }},
      // Matrix multiply: every transpose flag, batches and broadcast batches.
      {"matmul", two({3, 4}, {4, 5}), [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul A^T", two({4, 3}, {4, 5}), [](auto& x) { return matmul(x[0], x[1], true, false); }},
      {"matmul B^T", two({3, 4}, {5, 4}), [](auto& x) { return matmul(x[0], x[1], false, true); }},
      {"matmul A^T B^T", two({4, 3}, {5, 4}), [](auto& x) { return matmul(x[0], x[1], true, true); }},
      {"matmul batch x matrix", two({2, 3, 4}, {4, 5}), [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul batch x matrix^T", two({2, 3, 4}, {5, 4}), [](auto& x) { return matmul(x[0], x[1], false, true); }},
      {"matmul matrix x batch", two({3, 4}, {2, 4, 5}), [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul broadcast batches", two({2, 1, 3, 4}, {3, 4, 2}), [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul batch^T x batch^T", two({2, 4, 3}, {2, 5, 4}), [](auto& x) { return matmul(x[0], x[1], true, true); }},
      {"gram", one({5, 3}), [](auto& x) { return gram(a0(x)); }},
      {"gram batched", one({2, 4, 3}), [](auto& x) { return gram(a0(x)); }},
      // Movement.
      {"reshape", one({3, 4}), [](auto& x) { return reshape(a0(x), {2, -1, 2}); }},
      {"permute", one({2, 3, 4}), [](auto& x) { return permute(a0(x), {2, 0, 1}); }},
      {"transpose", one({2, 3, 4}), [](auto& x) { return transpose(a0(x), 0, 2); }},
      {"expand", one({3, 1}), [](auto& x) { return expand(a0(x), {2, 3, 4}); }},
      {"slice step 2", one({3, 7}), [](auto& x) { return slice(a0(x), 1, 1, 6, 2); }},
      {"slice negative", one({5, 2}), [](auto& x) { return slice(a0(x), 0, -3, 5); }},
      {"scatter_slice", one({3, 2}), [](auto& x) { return scatter_slice(a0(x), 1, 5, 1, 2); }},
      {"pad", one({2, 3}), [](auto& x) { return pad(a0(x), 0, 1, 2); }},
      {"concat", two({2, 3}, {2, 2}), [](auto& x) { return concat({x[0], x[1], x[0]}, 1); }},
      {"cast", one({3, 2}), [](auto& x) { return cast(a0(x), DType::f64) * a0(x); }},
      // Convolution blocks and the convolutions built from them.
      {"im2col", one({2, 2, 4, 5}), [](auto& x) { return im2col(a0(x), 3, 2, 1, 1); }},
      {"col2im", one({2, 2 * 3 * 3, 4}), [](auto& x) { return col2im(a0(x), {2, 2, 4, 4}, 3, 3, 2, 1); }},
      {"conv2d stride 2 pad 1",
       [] { return std::vector<Tensor>{input({2, 2, 5, 5}, 4), input({3, 2, 3, 3}, 5), input({3}, 6)}; },
       [](auto& x) { return conv2d(x[0], x[1], x[2], 2, 1); }},
      {"conv_transpose2d stride 2",
       [] { return std::vector<Tensor>{input({2, 3, 3, 3}, 7), input({3, 2, 3, 3}, 8), input({2}, 9)}; },
       [](auto& x) { return conv_transpose2d(x[0], x[1], x[2], 2, 1, 1); }},
      {"conv2d_weight_grad stride 2 pad 1", two({2, 3, 3, 3}, {2, 2, 5, 5}),
       [](auto& x) { return conv2d_weight_grad(x[0], x[1], 3, 3, 2, 1); }},
      {"conv2d with leading axes on the input",
       [] { return std::vector<Tensor>{input({2, 3, 2, 4, 4}, 13), input({2, 2, 3, 3}, 14)}; },
       [](auto& x) { return conv2d(x[0], x[1], {}, 2, 1); }},
      {"conv2d with leading axes on the weight",
       [] { return std::vector<Tensor>{input({3, 2, 4, 4}, 15), input({2, 2, 2, 3, 3}, 16)}; },
       [](auto& x) { return conv2d(x[0], x[1], {}, 1, 1); }},
      {"conv_transpose2d with leading axes on both",
       [] { return std::vector<Tensor>{input({2, 3, 2, 3, 3}, 17), input({2, 2, 3, 3, 3}, 18)}; },
       [](auto& x) { return conv_transpose2d(x[0], x[1], {}, 2, 1, 1); }},
      {"conv2d with leading axes that broadcast against each other",
       [] { return std::vector<Tensor>{input({2, 1, 2, 2, 4, 4}, 21), input({3, 2, 2, 3, 3}, 22)}; },
       [](auto& x) { return conv2d(x[0], x[1], {}, 2, 1); }},
      {"conv2d_weight_grad with leading axes on the output side",
       [] { return std::vector<Tensor>{input({2, 2, 3, 3, 3}, 19), input({2, 2, 5, 5}, 20)}; },
       [](auto& x) { return conv2d_weight_grad(x[0], x[1], 3, 3, 2, 1); }},
      // Composites.
      {"mean axes", one({2, 3, 4}), [](auto& x) { return mean(a0(x), {0, 2}); }},
      {"var unbiased", one({3, 4}), [](auto& x) { return var(a0(x), {1}, false, true); }},
      {"softplus", one({3, 4}, -30, 30), [](auto& x) { return softplus(a0(x)); }},
      {"silu", one({3, 4}, -3, 3), [](auto& x) { return silu(a0(x)); }},
      {"leaky_relu", one({3, 4}, -1, 1, 0.1), [](auto& x) { return leaky_relu(a0(x), 0.1); }},
      {"logsumexp", one({3, 4}, -5, 5), [](auto& x) { return logsumexp(a0(x), 1); }},
      {"log_softmax", one({3, 4}, -5, 5), [](auto& x) { return log_softmax(a0(x), 0); }},
      {"softmax", one({3, 4}, -5, 5), [](auto& x) { return softmax(a0(x), -1); }},
      {"softmax axis 0", one({3, 2, 4}, -5, 5), [](auto& x) { return softmax(a0(x), 0); }},
      {"mse", two({3, 4}, {3, 4}), [](auto& x) { return mse(x[0], x[1]); }},
      {"minimum", two({3, 4}, {4}, -1, 1, 0.05), [](auto& x) { return minimum(x[0], x[1]); }},
      {"clamp", one({3, 4}, -2, 2), [](auto& x) { return clamp(a0(x), -0.93, 0.87); }},
      {"sum_to with lead", one({2, 3, 4}), [](auto& x) { return sum_to(a0(x), {1, 4}, 1); }},
      {"linear",
       [] { return std::vector<Tensor>{input({5, 3}, 10), input({4, 3}, 11), input({4}, 12)}; },
       [](auto& x) { return linear(x[0], x[1], x[2]); }},
  };
  return t;
}

// A case's inputs as leaves on device d.
std::vector<Tensor> inputs_on(const OpCase& c, Device d) {
  std::vector<Tensor> xs = c.make_inputs();
  for (Tensor& x : xs) x = x.detach().to(d).requires_grad_();
  return xs;
}

}  // namespace

// Runs `check` (gradcheck or gradgradcheck) on every op of the table, its f64 inputs on the test device.
static void check_every_op(const std::function<GradcheckResult(const OpCase&, const std::vector<Tensor>&)>& check) {
  const Device d = test::test_device();
  if (!test::device_or_skip(d)) return;
  for (const OpCase& c : op_table()) {
    CAPTURE(c.name);
    const GradcheckResult r = check(c, inputs_on(c, d));
    CHECK_MESSAGE(r.ok, c.name << ": " << r.message);
  }
}

TEST_CASE("gradcheck: every op's first derivatives match central differences (f64)") {
  check_every_op([](const OpCase& c, const std::vector<Tensor>& x) { return gradcheck(c.f, x); });
}

TEST_CASE("gradgradcheck: every op's second derivatives match central differences (f64)") {
  check_every_op([](const OpCase& c, const std::vector<Tensor>& x) { return gradgradcheck(c.f, x); });
}

TEST_CASE("gradcheck catches a wrong backward rule") {
  // d(x^2)/dx written as g*x, missing the factor 2: the check must fail.
  Function wrong_square = [](const std::vector<Tensor>& x) {
    Tensor out = (x[0] * x[0]).detach();
    return record("wrong_square", out, {x[0]},
                  [](BackwardContext& c, const Tensor& g) { return std::vector{g * c.saved(0)}; }, {x[0]});
  };
  GradcheckResult r = gradcheck(wrong_square, {input({3}, 1)});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("analytic") != std::string::npos);

  // A first derivative that is right but whose own derivative is wrong: only gradgradcheck notices.
  Function frozen_tanh = [](const std::vector<Tensor>& x) {
    Tensor out = tanh(x[0].detach());
    return record("frozen_tanh", out, {x[0]},
                  [](BackwardContext& c, const Tensor& g) {
                    Tensor y = c.output().detach();  // cuts the rule's own history
                    return std::vector{g * (1.0 - y * y)};
                  },
                  {}, true);
  };
  CHECK(gradcheck(frozen_tanh, {input({3}, 2)}).ok);
  CHECK_FALSE(gradgradcheck(frozen_tanh, {input({3}, 2)}).ok);
}
