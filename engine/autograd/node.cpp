// Recording ops into the graph, grad mode and anomaly mode.
#include <atomic>
#include <cmath>

#include "engine/autograd/autograd.h"
#include "engine/autograd/node.h"

namespace gg {

namespace {
thread_local bool g_grad_enabled = true;
std::atomic<int64_t> g_live_nodes{0};
thread_local bool g_anomaly_enabled = false;
}  // namespace

LiveNodeCount::LiveNodeCount() { ++g_live_nodes; }
LiveNodeCount::LiveNodeCount(const LiveNodeCount&) { ++g_live_nodes; }
LiveNodeCount::~LiveNodeCount() { --g_live_nodes; }
int64_t LiveNodeCount::now() { return g_live_nodes.load(); }

bool grad_enabled() { return g_grad_enabled; }
GradModeGuard::GradModeGuard(bool enabled) : previous_(g_grad_enabled) { g_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_enabled = previous_; }

bool anomaly_enabled() { return g_anomaly_enabled; }
AnomalyModeGuard::AnomalyModeGuard(bool enabled) : previous_(g_anomaly_enabled) { g_anomaly_enabled = enabled; }
AnomalyModeGuard::~AnomalyModeGuard() { g_anomaly_enabled = previous_; }

void check_finite(const Tensor& t, const char* op) {
  std::vector<double> v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      fail(std::string("anomaly: op '") + op + "' produced " + (std::isnan(v[i]) ? "NaN" : "Inf") +
           " at flat index " + std::to_string(i) + " of its output " + t.str());
}

void Node::release() {
  saved.clear();
  derived.clear();
  rule = nullptr;
  out_storage.reset();
  released = true;
}

Tensor BackwardContext::output() const {
  GG_CHECK(node.save_output, std::string("backward of '") + node.op + "': the rule reads an output it did not save");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = node.out_storage;
  impl->offset = node.out_offset;
  impl->shape = node.out_shape;
  impl->dtype = node.out_dtype;
  impl->requires_grad = true;
  impl->grad_fn = node.shared_from_this();
  return Tensor(std::move(impl));
}

Tensor record(const char* op, Tensor out, const std::vector<Tensor>& inputs, BackwardRule rule,
              std::vector<Tensor> saved, bool save_output) {
  if (g_anomaly_enabled) check_finite(out, op);
  if (!g_grad_enabled) return out;
  bool any = false;
  for (const Tensor& t : inputs) any |= t.requires_grad();
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge e;
    e.requires_grad = t.requires_grad();
    if (e.requires_grad) {
      if (t.grad_fn())
        e.fn = t.grad_fn();
      else
        e.leaf = t.impl();
    }
    e.shape = t.shape();
    node->inputs.push_back(std::move(e));
  }
  node->saved = std::move(saved);
  node->rule = std::move(rule);
  node->out_shape = out.shape();
  node->out_dtype = out.dtype();
  if (save_output) {
    node->save_output = true;
    node->out_storage = out.impl()->storage;
    node->out_offset = out.impl()->offset;
  }
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
  return out;
}

}  // namespace gg
