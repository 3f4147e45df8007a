// Learning benchmark: SFT warm-up on the built-in task, then RL from the same warm-up checkpoint
// with k15 and with grpo for the same number of iterations (same samples); held-out greedy
// accuracy before and after. Prints a table and a JSON line
// {acc_before, acc_after_k15, acc_after_grpo, rl_minutes}, with each phase's page faults and CPU
// time in the resource table.
// Usage: k1rl-bench-learning [--config inputs/configs/tiny.ini] [--iterations N] [--out DIR]
//                            [--seeds N (run.seed 1..N; mean and range)] [--algorithms k15,grpo]
//                            [--quick] [--threads N] [--section.key=value ...]
// With a config that starts from an imported model (train.sft_steps = 0, init_checkpoint), the
// start is that model (e.g. inputs/configs/smollm2-135m.ini).
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "kernels/ops.h"
#include "lib/app/app.h"
#include "lib/eval/eval.h"
#include "lib/loop/loop.h"
#include "lib/model/model.h"
#include "tools/bench/common/bench.h"

using namespace k1rl;

namespace {
Config make(const std::string& ini, std::vector<std::string> ov) {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::load(spec, ini, ov);
}

eval::EvalResult evaluate(const Config& cfg) {
  const RunDir run = RunDir::from(cfg);
  int64_t it = train::latest_checkpoint(run);
  model::Model m(model::read_checkpoint_config(run.ckpt(it)));
  model::load_checkpoint(run.ckpt(it), m, nullptr);
  auto tok = make_tokenizer(cfg);
  auto tasks = load_tasks(cfg.get_string("tasks.heldout_file"));
  Scorer scorer(reward_options_from_config(cfg), tasks);
  return eval::evaluate(m, *tok, policy::prompt_format(cfg, *tok), tasks, scorer,
                        eval::EvalConfig::from(cfg),
                        static_cast<uint64_t>(cfg.get_int("run.seed")));
}
struct Stats {
  double mean = 0, lo = 1e300, hi = -1e300;
  void add(double x, int n) {
    mean += x / n;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a <= s.size()) {
    size_t b = s.find(',', a);
    if (b == std::string::npos) b = s.size();
    if (b > a) out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  bench::Driver d("learning", "held-out accuracy after SFT, then after RL with k15 and with grpo");
  std::string ini = K1RL_SOURCE_DIR "/inputs/configs/tiny.ini", out = "/tmp/k1rl-bench-learning";
  int64_t iterations = -1;
  int seeds = 1;
  std::string algo_list = "k15,grpo";
  d.options().add_options()("config", bench::po::value(&ini)->default_value(ini), "INI config")(
      "iterations", bench::po::value(&iterations)->default_value(-1),
      "RL iterations per algorithm (-1: run.iterations; --quick: 1)")(
      "out", bench::po::value(&out)->default_value(out), "scratch run directories (removed first)")(
      "seeds", bench::po::value(&seeds)->default_value(1), "seeds (run.seed 1..N): mean and range")(
      "algorithms", bench::po::value(&algo_list)->default_value(algo_list),
      "comma-separated RL algorithms, each from the same start");
  if (!d.parse(argc, argv, true)) return d.exit_code();
  seeds = std::max(1, seeds);
  const std::vector<std::string> algos = split(algo_list);
  std::vector<std::string> extra = d.unknown();  // --section.key=value overrides
  if (d.quick()) {
    extra.insert(extra.begin(), {"--train.sft_steps=20", "--eval.max_prompts=20"});
    if (!d.given("iterations")) iterations = 1;
  }
  try {
    std::filesystem::remove_all(out);
    auto with = [&](std::vector<std::string> ov) {
      ov.insert(ov.begin(), extra.begin(), extra.end());
      return ov;
    };
    if (iterations < 0) iterations = make(ini, {}).get_int("run.iterations");
    Stats before;
    std::vector<Stats> after(algos.size()), minutes(algos.size());
    std::vector<std::pair<std::string, eval::EvalResult>> rows;
    d.print_header();
    for (int seed = 1; seed <= seeds; ++seed) {
      const std::string sd = "--run.seed=" + std::to_string(seed);
      const std::string base = out + "/seed" + std::to_string(seed);
      Config sft = make(ini, with({"--run.dir=" + base + "/sft", "--run.iterations=0", sd}));
      model::engine_setup(sft);  // --engine.precision=... as the apps do
      bench::Meter m_sft;
      loop::run_local(sft);  // SFT warm-up, or the imported weights as it_000000 (sft_steps = 0)
      d.record(m_sft.stop(strfmt("seed %d: start", seed)));
      const double sft_s = d.phases().back().wall_s;
      bench::Meter m_eval;
      eval::EvalResult b = evaluate(sft);
      d.record(m_eval.stop(strfmt("seed %d: eval of the start", seed)));
      before.add(b.greedy_accuracy, seeds);
      rows.push_back({strfmt("seed %d: start", seed), b});
      for (size_t a = 0; a < algos.size(); ++a) {
        Config rl = make(
            ini,
            with({"--run.dir=" + base + "/" + algos[a], "--train.algorithm=" + algos[a],
                  "--train.init_checkpoint=" + RunDir::from(sft).ckpt(0), "--train.sft_steps=0",
                  "--run.iterations=" + std::to_string(iterations), sd}));
        bench::Meter m_rl;
        loop::run_local(rl);
        d.record(m_rl.stop(strfmt("seed %d: RL %s", seed, algos[a].c_str())));
        minutes[a].add(d.phases().back().wall_s / 60.0, seeds);
        bench::Meter m_ev;
        eval::EvalResult r = evaluate(rl);
        d.record(m_ev.stop(strfmt("seed %d: eval after %s", seed, algos[a].c_str())));
        after[a].add(r.greedy_accuracy, seeds);
        rows.push_back({strfmt("seed %d: %s, %lld it", seed, algos[a].c_str(),
                               static_cast<long long>(iterations)),
                        r});
      }
      std::printf("seed %d: start %.1f s; held-out %s\n", seed, sft_s,
                  sft.get_string("tasks.heldout_file").c_str());
    }
    std::printf("%s", eval::format_table(rows).c_str());
    std::printf("%d seed(s), %lld RL iterations: before %.3f [%.3f, %.3f]\n", seeds,
                static_cast<long long>(iterations), before.mean, before.lo, before.hi);
    d.json().integer("seeds", seeds).num("acc_before", before.mean, 4);
    for (size_t a = 0; a < algos.size(); ++a) {
      std::printf("  %-8s after %.3f [%.3f, %.3f], RL minutes per run %.2f [%.2f, %.2f]\n",
                  algos[a].c_str(), after[a].mean, after[a].lo, after[a].hi, minutes[a].mean,
                  minutes[a].lo, minutes[a].hi);
      d.json()
          .num("acc_after_" + algos[a], after[a].mean, 4)
          .num("acc_after_" + algos[a] + "_min", after[a].lo, 4)
          .num("acc_after_" + algos[a] + "_max", after[a].hi, 4);
    }
    d.json().num("rl_minutes", minutes.empty() ? 0.0 : minutes[0].mean, 2);
    d.finish();
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-learning: error: %s\n", e.line().c_str());
    return 2;
  }
  return 0;
}
