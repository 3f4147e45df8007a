// Learning benchmark: SFT warm-up on the built-in task, then RL from the same warm-up checkpoint
// with k15 and with grpo for the same number of iterations (same samples); held-out greedy
// accuracy before and after. Prints a table and a JSON line
// {acc_before, acc_after_k15, acc_after_grpo, rl_minutes}, with each phase's page faults and CPU
// time in the resource table.
// Usage: k1rl-bench-learning [--config inputs/configs/tiny.ini] [--iterations N] [--out DIR]
//                            [--quick] [--threads N] [--section.key=value ...]
#include <cstdio>
#include <filesystem>

#include "lib/app/app.h"
#include "lib/eval/eval.h"
#include "lib/loop/loop.h"
#include "tools/bench/common/bench.h"

using namespace k1rl;

namespace {
Config make(const std::string& ini, std::vector<std::string> ov) {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::load(spec, ini, ov);
}

eval::EvalResult evaluate(const Config& cfg) {
  int64_t it = train::latest_checkpoint(cfg);
  model::Model m(model::read_checkpoint_config(train::ckpt_path(cfg, it)));
  model::load_checkpoint(train::ckpt_path(cfg, it), m, nullptr);
  auto tok = make_tokenizer(cfg);
  auto tasks = load_tasks(cfg.get_string("tasks.heldout_file"));
  Scorer scorer(reward_options_from_config(cfg), tasks);
  return eval::evaluate(m, *tok, policy::prompt_format(cfg, *tok), tasks, scorer,
                        eval::EvalConfig::from(cfg),
                        static_cast<uint64_t>(cfg.get_int("run.seed")));
}
}  // namespace

int main(int argc, char** argv) {
  bench::Driver d("learning", "held-out accuracy after SFT, then after RL with k15 and with grpo");
  std::string ini = K1RL_SOURCE_DIR "/inputs/configs/tiny.ini", out = "/tmp/k1rl-bench-learning";
  int64_t iterations = -1;
  d.options().add_options()("config", bench::po::value(&ini)->default_value(ini), "INI config")(
      "iterations", bench::po::value(&iterations)->default_value(-1),
      "RL iterations per algorithm (-1: run.iterations; --quick: 1)")(
      "out", bench::po::value(&out)->default_value(out), "scratch run directories (removed first)");
  if (!d.parse(argc, argv, true)) return d.exit_code();
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
    Config sft = make(ini, with({"--run.dir=" + out + "/sft", "--run.iterations=0"}));
    if (iterations < 0) iterations = make(ini, {}).get_int("run.iterations");
    d.print_header();
    bench::Meter m_sft;
    loop::run_local(sft);
    d.record(m_sft.stop("SFT warm-up"));
    const double sft_s = d.phases().back().wall_s;
    bench::Meter m_eval;
    eval::EvalResult before = evaluate(sft);
    d.record(m_eval.stop("eval after SFT"));
    std::vector<std::pair<std::string, eval::EvalResult>> rows = {{"SFT warm-up", before}};
    double minutes[2] = {0, 0};
    const char* algos[2] = {"k15", "grpo"};
    for (int a = 0; a < 2; ++a) {
      Config rl = make(
          ini,
          with({"--run.dir=" + out + "/" + algos[a], "--train.algorithm=" + std::string(algos[a]),
                "--train.init_checkpoint=" + train::ckpt_path(sft, 0), "--train.sft_steps=0",
                "--run.iterations=" + std::to_string(iterations)}));
      bench::Meter m_rl;
      loop::run_local(rl);
      d.record(m_rl.stop(strfmt("RL %s", algos[a])));
      minutes[a] = d.phases().back().wall_s / 60.0;
      bench::Meter m_ev;
      rows.push_back({strfmt("%s, %lld iterations", algos[a], static_cast<long long>(iterations)),
                      evaluate(rl)});
      d.record(m_ev.stop(strfmt("eval after %s", algos[a])));
    }
    std::printf("SFT warm-up %.1f s; RL %.2f min (k15), %.2f min (grpo); held-out %s\n", sft_s,
                minutes[0], minutes[1], sft.get_string("tasks.heldout_file").c_str());
    std::printf("%s", eval::format_table(rows).c_str());
    d.json()
        .num("acc_before", before.greedy_accuracy, 4)
        .num("acc_after_k15", rows[1].second.greedy_accuracy, 4)
        .num("acc_after_grpo", rows[2].second.greedy_accuracy, 4)
        .num("rl_minutes", minutes[0], 2);
    d.finish();
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-learning: error: %s\n", e.line().c_str());
    return 2;
  }
  return 0;
}
