// k1rl-bench-byom's training row (train-row.h).
#include "tools/bench/byom/train-row.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "lib/json/json.h"
#include "lib/optim/optim.h"

namespace k1rl::bench {

namespace {

struct Step {
  double seconds = 0, loss = 0;
  Usage usage;
};

double rel_diff(double a, double b) {
  return std::fabs(a - b) / std::max(1e-12, std::max(std::fabs(a), std::fabs(b)));
}

}  // namespace

TrainRow run_train_row(model::Model& net, Coprocess* ref, int64_t batch, int64_t seq, int steps,
                       bool bf16) {
  TrainRow row;
  row.batch = batch, row.seq = seq;
  Rng rng(11);
  model::Batch b;
  b.cu.push_back(0);
  std::string ids;
  for (int64_t s = 0; s < batch; ++s) {
    for (int64_t t = 0; t < seq; ++t) {
      const int32_t tok = int32_t(rng.below(uint64_t(net.config().vocab)));
      b.tokens.push_back(tok);
      ids += (ids.empty() ? "" : ",") + std::to_string(tok);
    }
    b.cu.push_back(int32_t(b.tokens.size()));
  }
  // The first step of a row starts torch's optimizer afresh, as `opt` below is ours.
  auto request = [&](bool first) {
    return strfmt("%s%s %lld %lld %s", bf16 ? "train_bf16" : "train", first ? "_new" : "",
                  (long long)batch, (long long)seq, ids.c_str());
  };

  optim::OptimConfig oc;  // inputs/configs/smollm2-135m.ini's RL step
  oc.lr = 1e-5, oc.beta1 = 0.9, oc.beta2 = 0.95, oc.weight_decay = 0, oc.grad_clip = 1;
  oc.schedule = "constant";
  optim::AdamW opt(oc, net.num_params(), net.param_ranges());
  const float w = 1.f / float(batch * (seq - 1));  // transformers' mean over shifted labels
  auto ours = [&] {
    Step s;
    const Usage u0 = usage_self();
    const double t0 = now();
    net.zero_grads();
    const model::CeResult ce = net.cross_entropy_step(b, w);
    opt.step(net.params(), net.grads());
    s.seconds = now() - t0;
    s.usage = usage_self() - u0;
    s.loss = ce.nll_sum / double(ce.tokens);
    return s;
  };
  auto torch = [&](Step* s, bool first) {
    if (!ref || !ref->running()) return false;
    const std::string line = ref->ask(request(first));
    if (line.empty()) return false;
    Json j = Json::parse(line);
    s->seconds = j["seconds"].as_number();
    s->loss = j["loss"].as_number();
    s->usage = phase_from_json("torch", line).usage;
    return true;
  };

  row.same_loss = ref != nullptr;
  row.ours_s = row.torch_s = 1e300;
  for (int i = 0; i <= steps; ++i) {  // step 0 is the warm-up (first allocation, first packing)
    const Step o = ours();
    if (i == 0) row.loss_first = o.loss;
    row.loss_last = o.loss;
    Step t;
    const bool ran = torch(&t, i == 0);
    if (ran) {
      row.max_loss_rel_diff = std::max(row.max_loss_rel_diff, rel_diff(o.loss, t.loss));
    } else {
      row.same_loss = false;
    }
    if (i == 0) continue;
    row.ours_phase.wall_s += o.seconds, row.ours_phase.usage += o.usage;
    if (o.seconds < row.ours_s)
      row.ours_s = o.seconds, row.ours_cpu_s = o.usage.user_s + o.usage.sys_s;
    if (ran) {
      row.torch_ran = true;
      row.torch_phase.wall_s += t.seconds, row.torch_phase.usage += t.usage;
      if (t.seconds < row.torch_s)
        row.torch_s = t.seconds, row.torch_cpu_s = t.usage.user_s + t.usage.sys_s;
    }
  }
  // fp32 on both sides, summed in different orders: 1e-3 of the loss is far above rounding and
  // far below what a wrong gradient or update does to the next step's loss.
  row.same_loss = row.same_loss && row.torch_ran && row.max_loss_rel_diff < (bf16 ? 2e-2 : 1e-3);
  if (!row.torch_ran) row.torch_s = 0;
  const char* kind = bf16 ? " bf16" : "";
  row.ours_phase.name = strfmt("k1rl train%s b%lldx%lld", kind, (long long)batch, (long long)seq);
  row.torch_phase.name = strfmt("torch train%s b%lldx%lld", kind, (long long)batch, (long long)seq);
  return row;
}

}  // namespace k1rl::bench
