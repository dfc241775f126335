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
  std::vector<Tensor> derived;  // what the rule made from `saved` for later passes (BackwardContext::derived)
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

// The incoming gradient is the engine's only handle to it, dropped when the rule returns, so a rule may
// hand it to an op that consumes it (mul_consuming): the gradient's buffer then holds the result, and a
// backward pass through m cotangents keeps one buffer of their size where it would keep two.
struct BackwardContext {
  Node& node;
  const std::vector<bool>& need;
  int64_t lead;  // leading cotangent-batch axes in the incoming gradient
  bool keeps_graph = true;  // the pass keeps this node's saved tensors for a later pass (retain_graph)

  bool needs(size_t i) const { return need[i]; }
  const Tensor& saved(size_t i) const { return node.saved[i]; }
  // Frees saved(i) now rather than when the rule returns, unless the graph is kept: a rule that has read
  // saved(i) for the last time calls it before it allocates its largest result, so that the two are
  // never held together. saved(i) must not be read afterwards.
  void drop_saved(size_t i) {
    if (!keeps_graph) node.saved[i] = Tensor();
  }
  // A tensor without history that the rule computes from its saved ones (relu's mask), made on the first
  // pass and kept beside them: a kept graph that is differentiated again and again (the exact penalty's
  // loop over m code units) then holds one, not one per pass.
  template <class Make>
  Tensor derived(size_t i, Make&& make) {
    if (i >= node.derived.size()) node.derived.resize(i + 1);
    if (!node.derived[i].defined()) node.derived[i] = make();
    return node.derived[i];
  }
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
