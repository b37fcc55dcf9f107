// The backward engine. Given root edges with their gradients it
//   1. walks the graph once to count, for each node, how many edges point at it (its dependencies);
//   2. runs nodes whose dependencies are all satisfied, latest-created first, so every node runs after all
//      the nodes that feed it gradient (a topological order);
//   3. adds up gradients arriving at the same node input with `+=`, after summing each down to the input's
//      shape (the one place where broadcasting is undone) and casting it to the input's dtype;
//   4. frees each node's saved tensors after it ran, unless retain_graph.
// autograd::grad additionally marks the nodes that lead to the requested inputs, runs only those, and captures
// the gradient arriving at each input instead of accumulating it into .grad.
#include "autograd/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "tensor/dispatch.h"
#include "tensor/functions.h"

namespace tandem::autograd {
namespace {

struct NodeTask {
  variable_list buffer;  // gradients of the node's forward outputs, summed
  int dependencies = 0;
  bool needed = true;
};

Tensor accumulate(const Tensor& existing, const Tensor& incoming) {
  if (!existing.defined()) return incoming;
  if (!incoming.defined()) return existing;
  return existing + incoming;
}

/// Shapes a gradient for input slot `i` of `node`: sums broadcast dims away and matches the dtype.
Tensor conform(const Tensor& grad, const Node& node, size_t i) {
  if (!grad.defined()) return grad;
  const InputMeta& meta = node.input_meta[i];
  Tensor g = grad;
  if (g.sizes() != meta.shape) {
    TD_CHECK(g.numel() >= meta.shape.product() || meta.shape.product() == 0, node.name(), ": gradient of shape ",
             g.sizes(), " cannot be reduced to input shape ", meta.shape);
    g = sum_to(g, meta.shape);
  }
  if (g.dtype() != meta.dtype) g = g.to(meta.dtype);
  return g;
}

struct Capture {
  Node* node;
  uint32_t input_nr;
};

variable_list run_engine(const variable_list& roots, const variable_list& root_grads, bool keep_graph,
                         bool create_graph, const variable_list& inputs, bool accumulate_into_leaves) {
  // ---- root edges ----
  std::vector<Edge> root_edges;
  root_edges.reserve(roots.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = gradient_edge(roots[i]);
    TD_CHECK(e.valid(), "backward: element ", i, " of the outputs does not require grad and has no grad_fn");
    root_edges.push_back(e);
  }

  // ---- dependencies ----
  std::unordered_map<Node*, NodeTask> tasks;
  std::vector<Node*> order;  // discovery order (for the `needed` pass)
  {
    std::vector<Node*> stack;
    for (const Edge& e : root_edges) {
      if (tasks.emplace(e.function.get(), NodeTask{}).second) {
        stack.push_back(e.function.get());
        order.push_back(e.function.get());
      }
    }
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const Edge& e : n->next_edges) {
        if (!e.valid()) continue;
        auto [it, inserted] = tasks.emplace(e.function.get(), NodeTask{});
        it->second.dependencies++;
        if (inserted) {
          stack.push_back(e.function.get());
          order.push_back(e.function.get());
        }
      }
    }
  }

  // ---- capture targets and pruning (autograd::grad) ----
  std::vector<Capture> captures;
  const bool capture_mode = !accumulate_into_leaves;
  if (capture_mode) {
    std::unordered_set<Node*> targets;
    for (size_t i = 0; i < inputs.size(); ++i) {
      Edge e = gradient_edge(inputs[i]);
      TD_CHECK(e.valid(), "grad: input ", i, " does not require grad");
      captures.push_back(Capture{e.function.get(), e.input_nr});
      targets.insert(e.function.get());
    }
    // needed(n) = n is a target or some next node is needed; compute by iterating to a fixed point over the
    // reverse discovery order (children are usually discovered after parents).
    for (auto& [node, task] : tasks) task.needed = targets.count(node) > 0;
    bool changed = true;
    while (changed) {
      changed = false;
      for (auto it = order.rbegin(); it != order.rend(); ++it) {
        NodeTask& t = tasks[*it];
        if (t.needed) continue;
        for (const Edge& e : (*it)->next_edges) {
          if (e.valid() && tasks[e.function.get()].needed) {
            t.needed = true;
            changed = true;
            break;
          }
        }
      }
    }
  }
  variable_list captured(captures.size());

  // ---- seed the roots ----
  auto cmp = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
  for (size_t i = 0; i < root_edges.size(); ++i) {
    const Edge& e = root_edges[i];
    NodeTask& t = tasks[e.function.get()];
    if (t.buffer.size() < e.function->num_outputs) t.buffer.resize(e.function->num_outputs);
    Tensor g = root_grads[i];
    t.buffer[e.input_nr] = accumulate(t.buffer[e.input_nr], g);
  }
  for (auto& [node, task] : tasks)
    if (task.dependencies == 0) ready.push(node);

  AutoGradMode grad_mode(create_graph);
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    NodeTask& task = tasks[node];
    if (task.buffer.size() < node->num_outputs) task.buffer.resize(node->num_outputs);
    variable_list grads = std::move(task.buffer);
    const bool is_leaf_sink = dynamic_cast<AccumulateGrad*>(node) != nullptr;

    variable_list outputs;
    if (task.needed) {
      node->run_pre_hooks(grads);
      for (size_t c = 0; c < captures.size(); ++c)
        if (captures[c].node == node) captured[c] = accumulate(captured[c], grads[captures[c].input_nr]);
      if (!(capture_mode && is_leaf_sink)) {
        outputs = node->apply(std::move(grads));
        if (!keep_graph) node->release_variables();
      }
    }
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.valid()) continue;
      NodeTask& next = tasks[e.function.get()];
      if (i < outputs.size() && outputs[i].defined() && next.needed) {
        if (next.buffer.size() < e.function->num_outputs) next.buffer.resize(e.function->num_outputs);
        next.buffer[e.input_nr] = accumulate(next.buffer[e.input_nr], conform(outputs[i], *node, i));
      }
      if (--next.dependencies == 0) ready.push(e.function.get());
    }
  }
  return captured;
}

/// Fills in implicit gradients (ones for one-element outputs) and checks explicit ones.
variable_list make_root_grads(const variable_list& outputs, const variable_list& grad_outputs, const char* op) {
  TD_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), op, ": got ", outputs.size(),
           " outputs but ", grad_outputs.size(), " gradients");
  variable_list grads(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    TD_CHECK(outputs[i].defined(), op, ": output ", i, " is undefined");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      TD_CHECK(outputs[i].numel() == 1, op, ": grad can be implicitly created only for one-element outputs, but output ",
               i, " has shape ", outputs[i].sizes(), "; pass a gradient of that shape");
      g = ones_like(outputs[i]);
    } else {
      TD_CHECK(g.sizes() == outputs[i].sizes(), op, ": gradient ", i, " has shape ", g.sizes(),
               " but the output has shape ", outputs[i].sizes());
      detail::check_same_device(g, outputs[i], op);
    }
    grads[i] = g;
  }
  return grads;
}

}  // namespace

void backward(const variable_list& tensors, const variable_list& grad_tensors, bool retain_graph, bool create_graph) {
  variable_list grads = make_root_grads(tensors, grad_tensors, "backward");
  run_engine(tensors, grads, retain_graph || create_graph, create_graph, {}, /*accumulate_into_leaves=*/true);
}

variable_list grad(const variable_list& outputs, const variable_list& inputs, const variable_list& grad_outputs,
                   std::optional<bool> retain_graph, bool create_graph, bool allow_unused) {
  TD_CHECK(!inputs.empty(), "grad: no inputs given");
  variable_list grads = make_root_grads(outputs, grad_outputs, "grad");
  variable_list result = run_engine(outputs, grads, retain_graph.value_or(create_graph), create_graph, inputs,
                                    /*accumulate_into_leaves=*/false);
  for (size_t i = 0; i < result.size(); ++i) {
    TD_CHECK(result[i].defined() || allow_unused, "grad: input ", i,
             " was not used to compute the outputs (pass allow_unused=true to get an undefined gradient)");
    if (result[i].defined() && result[i].sizes() != inputs[i].sizes()) result[i] = sum_to(result[i], inputs[i].sizes());
  }
  return result;
}

}  // namespace tandem::autograd
