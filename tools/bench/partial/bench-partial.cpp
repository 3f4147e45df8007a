// Partial rollouts pay: finished answers per rollout-second and batch-slot utilisation with and
// without partial rollouts, on the same policy, prompts and token budget. Without them every
// iteration waits for its longest answer while the batch empties; with them an answer gets at
// most segment_tokens per iteration, the rest is parked, and new answers keep the slots full.
// The policy is a seeded random-init model: its end-of-answer rate gives geometrically
// distributed answer lengths, cut at max_answer_tokens (a long tail). Prints a table and a JSON
// line. Usage: k1rl-bench-partial [--tokens N] [--max-answer N] [--segment N]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/ops.h"
#include "lib/app/app.h"
#include "lib/rollout/rollout.h"

using namespace k1rl;

namespace {
struct Totals {
  int64_t tokens = 0, finished = 0, iterations = 0;
  double gen_s = 0, util_sum = 0;
};

Config bench_config(bool partial, int64_t max_answer, int64_t segment, int64_t batch) {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::parse(
      spec, "", "bench",
      {"--model.dim=128", "--model.layers=2", "--model.heads=4", "--model.kv_heads=4",
       "--model.ffn_dim=352", "--model.max_seq=" + std::to_string(max_answer + 32),
       "--rollout.samples_per_prompt=8", "--rollout.max_batch=" + std::to_string(batch),
       "--rollout.max_answer_tokens=" + std::to_string(max_answer),
       "--rollout.segment_tokens=" + std::to_string(segment),
       "--rollout.token_budget=" + std::to_string(segment * batch),
       "--rollout.repeat_min_tokens=100000",
       std::string("--rollout.partial=") + (partial ? "true" : "false")});
}

// Runs iterations until `token_budget` tokens were generated in total. Each iteration tops the
// batch up with new groups (8 answers each) while parked answers leave room.
Totals run(const model::Model& m, const Tokenizer& tok, const std::vector<Task>& tasks,
           bool partial, int64_t max_answer, int64_t segment, int64_t batch, int64_t token_budget) {
  Config cfg = bench_config(partial, max_answer, segment, batch);
  rollout::RolloutWorker w(cfg, tok, tasks);
  auto score = [](const std::vector<Answer>& a, int64_t) { return std::vector<Score>(a.size()); };
  Totals t;
  std::vector<buffer::Trajectory> pending;
  int64_t next_prompt = 0;
  for (int64_t it = 0; t.tokens < token_budget; ++it) {
    std::vector<int64_t> fresh;
    for (int64_t room = batch - static_cast<int64_t>(pending.size()); room >= 8; room -= 8)
      fresh.push_back(next_prompt++ % static_cast<int64_t>(tasks.size()));
    auto res = w.run(m, it, 0, pending, fresh, score);
    pending.clear();
    for (auto& r : res.shard.rows)
      if (!r.ready) pending.push_back(std::move(r));
    t.tokens += static_cast<int64_t>(res.metrics.at("tokens"));
    t.finished += static_cast<int64_t>(res.metrics.at("answers_ended"));
    t.gen_s += res.metrics.at("gen_s");
    t.util_sum += res.metrics.at("slot_util");
    ++t.iterations;
  }
  return t;
}
}  // namespace

int main(int argc, char** argv) {
  int64_t tokens = 60000, max_answer = 512, segment = 128, batch = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokens"))
      tokens = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--max-answer"))
      max_answer = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--segment"))
      segment = std::atoll(argv[i + 1]);
    else {
      std::fprintf(
          stderr,
          "k1rl-bench-partial: error: unknown option %s; see the header of bench-partial.cpp\n",
          argv[i]);
      return 64;
    }
  }
  try {
    auto tok = make_byte_tokenizer();
    Rng rng(1);
    std::vector<Task> tasks;
    for (int i = 0; i < 64; ++i) tasks.push_back(generate_task("addition", 2, rng));
    model::Model m(model::ModelConfig::from_config(bench_config(true, max_answer, segment, batch)));
    m.init_params(42);
    Totals full = run(m, *tok, tasks, false, max_answer, segment, batch, tokens);
    Totals part = run(m, *tok, tasks, true, max_answer, segment, batch, tokens);
    auto line = [](const char* name, const Totals& t) {
      std::printf("%-10s %10lld %10lld %6lld %10.2f %12.1f %12.1f %10.3f\n", name,
                  (long long)t.tokens, (long long)t.finished, (long long)t.iterations, t.gen_s,
                  t.finished / t.gen_s, t.tokens / t.gen_s,
                  t.util_sum / static_cast<double>(t.iterations));
    };
    std::printf(
        "policy: random-init dim 128, 2 layers; %lld answers per batch, answers <= %lld tokens, "
        "segment %lld tokens, %d OpenMP threads\n",
        (long long)batch, (long long)max_answer, (long long)segment, ops::num_threads());
    std::printf("%-10s %10s %10s %6s %10s %12s %12s %10s\n", "rollouts", "tokens", "finished",
                "iters", "gen s", "finished/s", "tokens/s", "slot util");
    line("full", full);
    line("partial", part);
    double fp = part.finished / part.gen_s, ff = full.finished / full.gen_s;
    std::printf(
        "{\"finished_per_s_partial\": %.3f, \"finished_per_s_full\": %.3f, \"ratio\": %.3f}\n", fp,
        ff, fp / ff);
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-partial: error: %s\n", e.line().c_str());
    return 2;
  }
  return 0;
}
