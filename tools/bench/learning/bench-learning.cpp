// Learning benchmark: SFT warm-up on the built-in task, then RL from the same warm-up checkpoint
// with k15 and with grpo for the same number of iterations (same samples); held-out greedy
// accuracy before and after. Prints a table and a JSON line
// {acc_before, acc_after_k15, acc_after_grpo, rl_minutes}.
// Usage: k1rl-bench-learning [--config inputs/configs/tiny.ini] [--iterations N] [--out DIR]
//                            [--section.key=value ...]
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "kernels/ops.h"
#include "lib/app/app.h"
#include "lib/eval/eval.h"
#include "lib/loop/loop.h"
#include "lib/model/model.h"

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
}  // namespace

int main(int argc, char** argv) {
  std::string ini = K1RL_SOURCE_DIR "/inputs/configs/tiny.ini", out = "/tmp/k1rl-bench-learning";
  int64_t iterations = -1;
  std::vector<std::string> extra;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--config") && i + 1 < argc)
      ini = argv[++i];
    else if (!std::strcmp(argv[i], "--iterations") && i + 1 < argc)
      iterations = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--out") && i + 1 < argc)
      out = argv[++i];
    else
      extra.push_back(argv[i]);
  }
  try {
    std::filesystem::remove_all(out);
    auto with = [&](std::vector<std::string> ov) {
      ov.insert(ov.begin(), extra.begin(), extra.end());
      return ov;
    };
    Config sft = make(ini, with({"--run.dir=" + out + "/sft", "--run.iterations=0"}));
    model::engine_setup(sft);  // --engine.precision=... as the apps do
    if (iterations < 0) iterations = make(ini, {}).get_int("run.iterations");
    double t0 = seconds_since_start();
    loop::run_local(sft);
    double sft_s = seconds_since_start() - t0;
    eval::EvalResult before = evaluate(sft);
    std::vector<std::pair<std::string, eval::EvalResult>> rows = {{"SFT warm-up", before}};
    double minutes[2] = {0, 0};
    const char* algos[2] = {"k15", "grpo"};
    for (int a = 0; a < 2; ++a) {
      Config rl = make(
          ini,
          with({"--run.dir=" + out + "/" + algos[a], "--train.algorithm=" + std::string(algos[a]),
                "--train.init_checkpoint=" + RunDir::from(sft).ckpt(0), "--train.sft_steps=0",
                "--run.iterations=" + std::to_string(iterations)}));
      double t1 = seconds_since_start();
      loop::run_local(rl);
      minutes[a] = (seconds_since_start() - t1) / 60.0;
      rows.push_back({strfmt("%s, %lld iterations", algos[a], static_cast<long long>(iterations)),
                      evaluate(rl)});
    }
    std::printf("SFT warm-up %.1f s; RL %.2f min (k15), %.2f min (grpo); held-out %s\n", sft_s,
                minutes[0], minutes[1], sft.get_string("tasks.heldout_file").c_str());
    std::printf("%s", eval::format_table(rows).c_str());
    std::printf(
        "{\"acc_before\": %.4f, \"acc_after_k15\": %.4f, \"acc_after_grpo\": %.4f, \"rl_minutes\": "
        "%.2f}\n",
        before.greedy_accuracy, rows[1].second.greedy_accuracy, rows[2].second.greedy_accuracy,
        minutes[0]);
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-learning: error: %s\n", e.line().c_str());
    return 2;
  }
  return 0;
}
