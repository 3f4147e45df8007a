// Partial rollouts pay: finished answers per second with and without partial rollouts, on the
// same policy, prompts and batch, in two rows:
//   ratio       rollout alone: iterations of RolloutWorker::run on a fixed policy, the batch
//               topped up with new groups while parked answers leave room; finished answers per
//               generation second;
//   loop_ratio  the whole loop: loop::run_local (rollout, in-process reward, k1.5 train step,
//               shard and checkpoint per iteration), finished (trained) answers per second of
//               the iterations after a warm-up (the pipeline of parked answers filled);
//               loop_token_ratio the same per trained answer token (over a short window
//               partial trains relatively more of the short answers: the long ones finish later).
// Full rollouts generate every answer to its end (rollout.max_answer_tokens) in its iteration;
// partial ones give an answer at most --segment tokens per iteration and park the rest, and
// start the groups of --refill more prompts in slots that free up meanwhile (refill_prompts);
// in the loop a parked answer is prefilled again after each train step, or continues from its
// stale keys and values with --parked-cache stale (rollout.parked_cache).
// The policy (long-tail.h) is shape S or SmolLM2-135M's shape (--shape) with a long-tail
// answer-length mix; the loop trains it at learning rate 0, so that the mix stays put while
// every train step costs what it costs.
// Prints both tables and a JSON line, with each mode's page faults and CPU time. Config overrides
// (--section.key=value, e.g. --engine.precision=fp32) apply to both modes; the engine is set up
// from them as the apps do (engine.precision = auto: bf16 where the CPU has it).
// Usage: k1rl-bench-partial [--shape s|smollm2] [--tokens N] [--max-answer N] [--segment N]
//                           [--refill N] [--full-prompts N] [--parked-cache exact|stale]
//                           [--iterations N] [--warmup N]
//                           [--short-mean X] [--tail-every X] [--tail-mean X] [--quick]
//                           [--threads N] [--section.key=value ...]
#include <cstdio>
#include <filesystem>

#include "kernels/ops.h"
#include "lib/app/app.h"
#include "lib/loop/loop.h"
#include "lib/rollout/rollout.h"
#include "tools/bench/common/bench.h"
#include "tools/bench/partial/long-tail.h"

using namespace k1rl;

namespace {
struct Setup {
  int64_t max_answer = 1024, segment = 64, batch = 64, k = 8;
  int64_t refill = 8;                  // partial: rollout.refill_prompts
  int64_t full_prompts = 0;            // loop, full: prompts per iteration (0: batch / k)
  std::string parked_cache = "exact";  // partial: rollout.parked_cache
  // rollout.prompts_per_iteration of a mode
  int64_t prompts(bool partial) const {
    return !partial && full_prompts > 0 ? full_prompts : batch / k;
  }
  int64_t prompt_room = 64;        // max_seq = max_answer + prompt_room
  std::string shape = "s";         // long-tail.h: s or smollm2
  std::vector<std::string> extra;  // config overrides from the command line
};

std::vector<std::string> common_options(const Setup& s, bool partial) {
  const model::ModelConfig c = bench::long_tail_shape(s.shape, s.max_answer + s.prompt_room);
  std::vector<std::string> o;
  for (const auto& [k, v] : c.to_map()) o.push_back("--model." + k + "=" + v);
  for (const std::string& kv :
       {"rollout.samples_per_prompt=" + std::to_string(s.k),
        "rollout.max_batch=" + std::to_string(s.batch),
        "rollout.prompts_per_iteration=" + std::to_string(s.prompts(partial)),
        "rollout.max_answer_tokens=" + std::to_string(s.max_answer),
        "rollout.segment_tokens=" + std::to_string(s.segment),
        std::string("rollout.partial=") + (partial ? "true" : "false"),
        "rollout.refill_prompts=" + std::to_string(partial ? s.refill : 0),
        "rollout.parked_cache=" + s.parked_cache})
    o.push_back("--" + kv);
  o.insert(o.end(), s.extra.begin(), s.extra.end());
  return o;
}

Config make_config(std::vector<std::string> overrides) {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::parse(spec, "", "bench", overrides);
}

// --- rollout alone ------------------------------------------------------------------------
struct Totals {
  int64_t tokens = 0, finished = 0, iterations = 0, prefill = 0, kept = 0;
  double gen_s = 0, util_sum = 0;
  std::vector<int64_t> lengths;
};

// Runs iterations until `token_budget` tokens were generated in total. Each iteration tops the
// batch up with new groups (k answers each) while parked answers leave room.
Totals run_rollout(const model::Model& m, const Tokenizer& tok, const std::vector<Task>& tasks,
                   bool partial, const Setup& s, int64_t token_budget) {
  Config cfg = make_config(common_options(s, partial));
  rollout::RolloutWorker w(cfg, tok, tasks);
  auto score = [](const std::vector<Answer>& a, int64_t) { return std::vector<Score>(a.size()); };
  Totals t;
  std::vector<buffer::Trajectory> pending;
  int64_t next_prompt = 0;
  for (int64_t it = 0; t.tokens < token_budget; ++it) {
    std::vector<int64_t> fresh;
    for (int64_t room = s.batch - static_cast<int64_t>(pending.size()); room >= s.k; room -= s.k)
      fresh.push_back(next_prompt++ % static_cast<int64_t>(tasks.size()));
    std::vector<int64_t> refill;  // partial: groups for the slots that free up
    for (int64_t j = 0; partial && j < s.refill; ++j)
      refill.push_back(next_prompt++ % static_cast<int64_t>(tasks.size()));
    auto res = w.run(m, it, 0, pending, fresh, score, refill);
    pending.clear();
    for (auto& r : res.shard.rows)
      if (!r.ready)
        pending.push_back(std::move(r));
      else
        t.lengths.push_back(r.answer_len());
    t.tokens += static_cast<int64_t>(res.metrics.at("tokens"));
    t.prefill += static_cast<int64_t>(res.metrics.at("prefill_tokens"));
    t.kept += static_cast<int64_t>(res.metrics.at("kept_tokens"));
    t.finished += static_cast<int64_t>(res.metrics.at("answers_ended"));
    t.gen_s += res.metrics.at("gen_s");
    t.util_sum += res.metrics.at("slot_util");
    ++t.iterations;
  }
  return t;
}

// --- the whole loop -----------------------------------------------------------------------
struct LoopTotals {
  int64_t answers = 0, iterations = 0, tokens = 0, prefill = 0, kept = 0;
  double seconds = 0, gen_s = 0, train_s = 0, rollout_s = 0, ckpt_s = 0;
  std::vector<int64_t> lengths;  // of the answers trained in the measured iterations
  double trained_tokens() const {
    double n = 0;
    for (int64_t l : lengths) n += static_cast<double>(l);
    return n;
  }
};

LoopTotals run_loop(const std::string& dir, const std::string& ckpt, const std::string& tasks,
                    bool partial, const Setup& s, int64_t warmup, int64_t iterations) {
  std::filesystem::remove_all(dir);
  std::vector<std::string> o;
  for (const std::string& kv :
       {"run.dir=" + dir, "run.iterations=" + std::to_string(warmup + iterations),
        std::string("run.keep_shards_every=1"), "tasks.train_file=" + tasks,
        "tasks.heldout_file=" + tasks, "reward.tasks=" + tasks, "train.init_checkpoint=" + ckpt,
        std::string("train.sft_steps=0"), std::string("train.rl_lr=0"),
        "train.groups_per_step=" + std::to_string(s.batch / s.k)})
    o.push_back("--" + kv);
  for (const std::string& kv : common_options(s, partial)) o.push_back(kv);  // overrides last
  const Config cfg = make_config(o);
  const std::vector<io::Row> rows = loop::run_local(cfg);
  LoopTotals t;
  const RunDir run = RunDir::from(cfg);
  const auto ro = io::read_table(run.metrics(), "rollout");
  for (size_t i = 0; i < ro.at("iteration").size(); ++i)
    if (ro.at("iteration")[i] >= static_cast<double>(warmup)) {
      t.tokens += static_cast<int64_t>(ro.at("tokens")[i]);
      t.prefill += static_cast<int64_t>(ro.at("prefill_tokens")[i]);
      t.kept += static_cast<int64_t>(ro.at("kept_tokens")[i]);
    }
  for (const io::Row& r : rows) {
    const int64_t it = static_cast<int64_t>(r.at("iteration"));
    if (it < warmup) continue;
    t.answers += static_cast<int64_t>(r.at("answers"));
    t.seconds += r.at("iteration_s");
    t.gen_s += r.at("gen_s");
    t.train_s += r.at("train_s");
    t.rollout_s += r.at("rollout_s");
    t.ckpt_s += r.at("ckpt_s");
    ++t.iterations;
    for (const auto& tr : buffer::read_shard(buffer::shard_path(run.buffer_dir(), it, 0)).rows)
      if (tr.ready) t.lengths.push_back(tr.answer_len());
  }
  return t;
}
}  // namespace

int main(int argc, char** argv) {
  bench::Driver d("partial", "finished answers per second with and without partial rollouts");
  Setup s;
  int64_t tokens = 40000, warmup = 6, iterations = 12;
  bench::LongTailMix mix;
  double short_mean = 1 / mix.stop_a, tail_every = 1 / mix.b_from_a, tail_mean = 1 / mix.a_from_b;
  d.options().add_options()(
      "shape", bench::po::value(&s.shape)->default_value(s.shape),
      "the policy's shape: s (4 layers, vocab 259) or smollm2 (SmolLM2-135M's "
      "30 layers, vocab 49,152)")("tokens", bench::po::value(&tokens)->default_value(tokens),
                                  "rollout row: tokens to generate per mode (--quick: 3000)")(
      "max-answer", bench::po::value(&s.max_answer)->default_value(s.max_answer), "answer cap")(
      "segment", bench::po::value(&s.segment)->default_value(s.segment), "tokens per segment")(
      "refill", bench::po::value(&s.refill)->default_value(s.refill),
      "partial: rollout.refill_prompts, prompts whose groups take the slots that free up while "
      "an iteration's own answers run (0: none)")(
      "full-prompts", bench::po::value(&s.full_prompts)->default_value(s.full_prompts),
      "full: prompts per iteration (0: the partial mode's own, batch / k; batch / k + refill "
      "draws as many prompts as partial does)")(
      "parked-cache", bench::po::value(&s.parked_cache)->default_value(s.parked_cache),
      "partial: rollout.parked_cache in the loop, exact (re-prefill after a train step) or "
      "stale (continue from the old keys and values)")(
      "warmup", bench::po::value(&warmup)->default_value(warmup),
      "loop row: iterations before the measured ones (--quick: 2)")(
      "iterations", bench::po::value(&iterations)->default_value(iterations),
      "loop row: measured iterations per mode (--quick: 2)")(
      "short-mean", bench::po::value(&short_mean)->default_value(short_mean),
      "length mix: mean tokens of an answer that stays short")(
      "tail-every", bench::po::value(&tail_every)->default_value(tail_every),
      "length mix: a short answer turns long once per this many tokens")(
      "tail-mean", bench::po::value(&tail_mean)->default_value(tail_mean),
      "length mix: mean tokens of each long stretch");
  if (!d.parse(argc, argv, true)) return d.exit_code();
  s.extra = d.unknown();
  if (s.shape != "s" && s.shape != "smollm2") {
    std::fprintf(stderr, "k1rl-bench-partial: error: unknown --shape '%s': use s or smollm2\n",
                 s.shape.c_str());
    return 64;
  }
  if (!(short_mean > 1 && tail_every > 1 && tail_mean > 1)) {
    std::fprintf(stderr,
                 "k1rl-bench-partial: error: --short-mean, --tail-every and --tail-mean "
                 "must be > 1 (tokens)\n");
    return 64;
  }
  mix.stop_a = 1 / short_mean, mix.b_from_a = 1 / tail_every, mix.a_from_b = 1 / tail_mean;
  if (d.quick()) {
    if (!d.given("tokens")) tokens = 3000;
    if (!d.given("warmup")) warmup = 2;
    if (!d.given("iterations")) iterations = 2;
  }
  const std::string dir = "/tmp/k1rl-bench-partial-" + std::to_string(getpid());
  try {
    set_log_level(LogLevel::warn);  // the loop's per-iteration lines
    auto tok = make_byte_tokenizer();
    Rng rng(1);
    std::vector<Task> tasks;
    for (int i = 0; i < 64; ++i) {
      tasks.push_back(generate_task("addition", 2, rng));
      tasks.back().id = "add-" + std::to_string(i);
    }
    const ops::EngineInfo engine = model::engine_setup(make_config(common_options(s, true)));
    model::Model m(bench::long_tail_shape(s.shape, s.max_answer + s.prompt_room));
    bench::set_long_tail_weights(m, mix, 42);
    io::make_dirs(dir);
    const std::string ckpt = dir + "/policy.h5", task_file = dir + "/tasks.jsonl";
    model::save_checkpoint(ckpt, m, nullptr, model::TrainState{});
    save_tasks(task_file, tasks);
    d.print_header(strfmt(
        "policy: %s with a long-tail length mix (short %.0f, long every %.0f, "
        "long stretches %.0f tokens); %lld answers per batch (%lld per prompt), answers <= %lld "
        "tokens, segment %lld tokens, partial refill %lld prompts, %s parked cache, loop full "
        "%lld prompts per iteration; %s",
        s.shape == "s" ? "shape S (vocab 259)" : "SmolLM2-135M's shape (vocab 49,152)", short_mean,
        tail_every, tail_mean, (long long)s.batch, (long long)s.k, (long long)s.max_answer,
        (long long)s.segment, (long long)s.refill, s.parked_cache.c_str(),
        (long long)s.prompts(false),
        engine.precision == ops::Precision::bf16 ? ("bf16 " + engine.bf16_isa).c_str() : "fp32"));

    // Rollout alone.
    bench::Meter m_full;
    Totals full = run_rollout(m, *tok, tasks, false, s, tokens);
    d.record(m_full.stop("rollout full"));
    bench::Meter m_part;
    Totals part = run_rollout(m, *tok, tasks, true, s, tokens);
    d.record(m_part.stop("rollout partial"));
    std::printf("\nrollout alone (answer lengths: %s)\n",
                bench::length_summary(full.lengths).c_str());
    std::printf("%-10s %10s %10s %10s %10s %6s %10s %12s %12s %10s\n", "rollouts", "tokens",
                "prefilled", "kept", "finished", "iters", "gen s", "finished/s", "tokens/s",
                "slot util");
    auto line = [](const char* name, const Totals& t) {
      std::printf("%-10s %10lld %10lld %10lld %10lld %6lld %10.2f %12.1f %12.1f %10.3f\n", name,
                  (long long)t.tokens, (long long)t.prefill, (long long)t.kept,
                  (long long)t.finished, (long long)t.iterations, t.gen_s, t.finished / t.gen_s,
                  t.tokens / t.gen_s, t.util_sum / static_cast<double>(t.iterations));
    };
    line("full", full);
    line("partial", part);

    // The whole loop.
    bench::Meter l_full;
    LoopTotals lf = run_loop(dir + "/full", ckpt, task_file, false, s, warmup, iterations);
    d.record(l_full.stop("loop full"));
    bench::Meter l_part;
    LoopTotals lp = run_loop(dir + "/partial", ckpt, task_file, true, s, warmup, iterations);
    d.record(l_part.stop("loop partial"));
    std::printf("\nwhole loop, iterations %lld..%lld (answer lengths: full %s; partial %s)\n",
                (long long)warmup, (long long)(warmup + iterations - 1),
                bench::length_summary(lf.lengths).c_str(),
                bench::length_summary(lp.lengths).c_str());
    std::printf("%-10s %10s %10s %10s %10s %10s %10s %10s %10s %10s %12s %12s\n", "rollouts",
                "answers", "tokens", "prefilled", "kept", "loop s", "gen s", "rollout s", "train s",
                "ckpt s", "answers/s", "trained t/s");
    auto lline = [](const char* name, const LoopTotals& t) {
      std::printf(
          "%-10s %10lld %10lld %10lld %10lld %10.2f %10.2f %10.2f %10.2f %10.2f %12.2f %12.1f\n",
          name, (long long)t.answers, (long long)t.tokens, (long long)t.prefill, (long long)t.kept,
          t.seconds, t.gen_s, t.rollout_s, t.train_s, t.ckpt_s, t.answers / t.seconds,
          t.trained_tokens() / t.seconds);
    };
    lline("full", lf);
    lline("partial", lp);

    const double fp = part.finished / part.gen_s, ff = full.finished / full.gen_s;
    const double lpr = lp.answers / lp.seconds, lfr = lf.answers / lf.seconds;
    d.json()
        .num("finished_per_s_partial", fp, 3)
        .num("finished_per_s_full", ff, 3)
        .num("ratio", bench::ratio(fp, ff), 3)
        .num("loop_answers_per_s_partial", lpr, 3)
        .num("loop_answers_per_s_full", lfr, 3)
        .num("loop_ratio", bench::ratio(lpr, lfr), 3)
        .num("loop_token_ratio",
             bench::ratio(lp.trained_tokens() / lp.seconds, lf.trained_tokens() / lf.seconds), 3)
        .str("precision", engine.precision == ops::Precision::bf16 ? "bf16" : "fp32")
        .str("shape", s.shape)
        .num("refill", static_cast<double>(s.refill), 0)
        .num("full_prompts", static_cast<double>(s.prompts(false)), 0)
        .str("parked_cache", s.parked_cache);
    std::filesystem::remove_all(dir);
    d.finish();
  } catch (const Error& e) {
    std::filesystem::remove_all(dir);
    std::fprintf(stderr, "k1rl-bench-partial: error: %s\n", e.line().c_str());
    return 2;
  }
  return 0;
}
