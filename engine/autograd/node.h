// A recorded op in the graph: its edges to the inputs, the tensors its backward rule needs, and the rule.
//
// A rule is ordinary tensor code: it reads saved tensors that keep their own history and calls the public
// ops, so when the engine runs it with a graph being recorded (create_graph), the gradient it returns is
// itself differentiable. No op has second-order code of its own.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace gg {

// Where a gradient flows: the producing node of an input, or the input itself when it is a leaf.
struct Edge {
  std::shared_ptr<Node> fn;
  std::shared_ptr<TensorImpl> leaf;
  Shape shape;
  bool requires_grad = false;
  const void* key() const { return fn ? static_cast<const void*>(fn.get()) : leaf.get(); }
};

struct BackwardContext;
// Returns one gradient per input (undefined where ctx.needs(i) is false). Gradients may carry leading
// cotangent-batch axes (see BackwardContext::lead) and may still have the broadcast shape of the output:
// the engine sums them back to each input's shape in one place.
using BackwardRule = std::function<std::vector<Tensor>(BackwardContext& ctx, const Tensor& grad)>;

// Counts the nodes alive, so a test can show that training keeps no graph from one step to the next.
struct LiveNodeCount {
  LiveNodeCount();
  LiveNodeCount(const LiveNodeCount&);
  ~LiveNodeCount();
  LiveNodeCount& operator=(const LiveNodeCount&) = default;
  static int64_t now();
};

struct Node : std::enable_shared_from_this<Node> {
  LiveNodeCount counted;
  const char* op = "";
  std::vector<Edge> inputs;
  std::vector<Tensor> saved;
  BackwardRule rule;
  // The output is kept without its grad_fn (that would be a cycle) and handed back with it by output().
  std::shared_ptr<Storage> out_storage;
  int64_t out_offset = 0;
  Shape out_shape;
  DType out_dtype = DType::f32;
  bool save_output = false;
  bool released = false;

  // Drops the saved tensors and the rule once a backward pass has used them.
  void release();
};

struct BackwardContext {
  Node& node;
  const std::vector<bool>& need;
  int64_t lead;  // leading cotangent-batch axes in the incoming gradient

  bool needs(size_t i) const { return need[i]; }
  const Tensor& saved(size_t i) const { return node.saved[i]; }
  // The op's output as a tensor with history (grad_fn = this node).
  Tensor output() const;
  const Shape& input_shape(size_t i) const { return node.inputs[i].shape; }
};

// Records `out` as made by `op` from `inputs`, when grad mode is on and some input requires grad.
// `saved` are the tensors the rule reads; `save_output` keeps the output for ctx.output().
// Returns `out`, now with a grad_fn when recorded. Also runs the anomaly check on `out`.
Tensor record(const char* op, Tensor out, const std::vector<Tensor>& inputs, BackwardRule rule,
              std::vector<Tensor> saved = {}, bool save_output = false);

}  // namespace gg
