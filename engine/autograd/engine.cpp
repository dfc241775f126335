// The backward pass: order the graph, run each needed node's rule once, sum gradients back to each input's
// shape in one place, and free what was used.
#include <unordered_map>
#include <unordered_set>

#include "engine/autograd/autograd.h"
#include "engine/autograd/node.h"
#include "engine/ops/ops.h"

namespace gg {

namespace {

thread_local uint64_t g_rules_run = 0;

// Post-order of the nodes reachable from `roots` (inputs before the nodes that use them), and for each
// node whether a gradient must flow through it to reach one of `targets`.
struct GraphPlan {
  std::vector<Node*> order;
  std::unordered_map<const Node*, bool> needed;
  std::vector<Tensor> leaves;  // every leaf that requires grad, once each
};

GraphPlan plan_graph(const std::vector<Node*>& roots, const std::unordered_set<const void*>& targets) {
  GraphPlan plan;
  std::unordered_set<const Node*> visited;
  std::unordered_set<const TensorImpl*> leaves_seen;
  std::vector<std::pair<Node*, size_t>> stack;
  for (Node* root : roots) {
    if (!root || visited.count(root)) continue;
    visited.insert(root);
    stack.push_back({root, 0});
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->inputs.size()) {
        const Edge& e = node->inputs[next++];
        if (e.leaf && leaves_seen.insert(e.leaf.get()).second) plan.leaves.push_back(Tensor(e.leaf));
        if (e.fn && !visited.count(e.fn.get())) {
          visited.insert(e.fn.get());
          stack.push_back({e.fn.get(), 0});
        }
        continue;
      }
      bool need = targets.count(node) > 0;
      for (const Edge& e : node->inputs)
        if (e.requires_grad && (targets.count(e.key()) || (e.fn && plan.needed[e.fn.get()]))) need = true;
      plan.needed[node] = need;
      plan.order.push_back(node);
      stack.pop_back();
    }
  }
  return plan;
}

}  // namespace

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, GradOptions opt) {
  GG_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(),
           "grad: " + std::to_string(grad_outputs.size()) + " grad_outputs for " + std::to_string(outputs.size()) +
               " outputs");
  const bool retain = opt.retain_graph || opt.create_graph;
  std::unordered_set<const void*> targets;
  for (size_t i = 0; i < inputs.size(); ++i) {
    GG_CHECK(inputs[i].defined(), "grad: input " + std::to_string(i) + " is undefined");
    GG_CHECK(inputs[i].requires_grad(), "grad: input " + std::to_string(i) + " (" + inputs[i].str() +
                                            ") does not require grad, so no gradient can be taken with respect to it");
    targets.insert(inputs[i].autograd_key());
  }

  // Seed the gradients of the outputs.
  std::unordered_map<const void*, Tensor> grads;
  std::vector<Node*> roots;
  Shape lead_shape;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& y = outputs[i];
    GG_CHECK(y.requires_grad(), "grad: output " + std::to_string(i) + " (" + y.str() +
                                    ") does not require grad: it does not depend on any input that does");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      GG_CHECK(y.numel() == 1 && opt.batch_axes == 0,
               "grad: output " + std::to_string(i) + " has shape " + shape_str(y.shape()) +
                   "; pass grad_outputs for a non-scalar output");
      g = Tensor::ones(y.shape(), y.dtype(), y.device());
    }
    GG_CHECK(g.dtype() == y.dtype(), "grad: grad_output " + g.str() + " has another dtype than output " + y.str());
    const int64_t lead_rank = std::min<int64_t>(opt.batch_axes, g.dim());
    Shape expect(g.shape().begin(), g.shape().begin() + lead_rank);
    if (i == 0) lead_shape = expect;
    const bool same_lead = expect == lead_shape && lead_rank == opt.batch_axes;
    expect.insert(expect.end(), y.shape().begin(), y.shape().end());
    GG_CHECK(same_lead && g.shape() == expect,
             "grad: grad_output of shape " + shape_str(g.shape()) + " does not match output " + shape_str(y.shape()) +
                 " with " + std::to_string(opt.batch_axes) + " batch axes of shape " + shape_str(lead_shape));
    auto [it, fresh] = grads.emplace(y.autograd_key(), g);
    if (!fresh) it->second = it->second + g;
    roots.push_back(y.grad_fn().get());
  }
  const int64_t lead = opt.batch_axes;

  GraphPlan plan = plan_graph(roots, targets);
  GradModeGuard mode(opt.create_graph);
  for (auto it = plan.order.rbegin(); it != plan.order.rend(); ++it) {
    Node* node = *it;
    if (!plan.needed[node]) continue;
    auto git = grads.find(node);
    if (git == grads.end()) continue;  // nothing flows into this node
    if (node->released)
      fail(std::string("backward: the graph through '") + node->op +
           "' was already freed by an earlier backward pass; pass retain_graph=true to go through it twice");
    Tensor g = git->second;
    if (!targets.count(node)) grads.erase(git);

    std::vector<bool> need(node->inputs.size());
    bool any = false;
    for (size_t i = 0; i < need.size(); ++i) {
      const Edge& e = node->inputs[i];
      need[i] = e.requires_grad && (targets.count(e.key()) || (e.fn && plan.needed[e.fn.get()]));
      any |= need[i];
    }
    if (!any) continue;
    BackwardContext ctx{*node, need, lead, retain};
    std::vector<Tensor> in_grads;
    try {
      in_grads = node->rule(ctx, g);
      ++g_rules_run;
    } catch (const Error& e) {
      if (!anomaly_enabled()) throw;
      fail(std::string("in the backward of '") + node->op + "': " + e.what());
    }
    for (size_t i = 0; i < need.size(); ++i) {
      if (!need[i] || !in_grads[i].defined()) continue;
      const Edge& e = node->inputs[i];
      Shape full = lead_shape;
      full.insert(full.end(), e.shape.begin(), e.shape.end());
      Tensor gi = in_grads[i].shape() == full ? in_grads[i] : sum_to(in_grads[i], e.shape, lead);
      if (anomaly_enabled()) check_finite(gi, (std::string("backward of ") + node->op).c_str());
      auto [slot, fresh] = grads.emplace(e.key(), gi);
      if (!fresh) slot->second = slot->second + gi;
    }
    if (!retain) node->release();
  }

  std::vector<Tensor> out;
  out.reserve(inputs.size());
  for (const Tensor& x : inputs) {
    auto it = grads.find(x.autograd_key());
    if (it != grads.end()) {
      out.push_back(it->second);
    } else {
      Shape full = lead_shape;
      full.insert(full.end(), x.shape().begin(), x.shape().end());
      out.push_back(Tensor::zeros(full, x.dtype(), x.device()));
    }
  }
  return out;
}

uint64_t backward_rules_run() { return g_rules_run; }

std::vector<Tensor> graph_leaves(const Tensor& output) {
  if (output.is_leaf()) return output.requires_grad() ? std::vector<Tensor>{output} : std::vector<Tensor>{};
  return plan_graph({output.grad_fn().get()}, {}).leaves;
}

Tensor grad(const Tensor& output, const Tensor& input, const Tensor& grad_output, GradOptions options) {
  return grad(std::vector<Tensor>{output}, std::vector<Tensor>{input}, std::vector<Tensor>{grad_output},
              options)[0];
}

}  // namespace gg
