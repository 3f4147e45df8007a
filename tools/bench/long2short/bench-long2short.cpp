// long2short benchmark (issue 15; the Kimi k1.5 report's Figure 7): from one long-CoT model
// (inputs/configs/long-model.ini: SFT on solution_long, then k1.5 RL), every long2short method's
// held-out greedy accuracy and mean answer tokens: merge (long + the short model of
// short-model.ini, an SFT of the long model's SFT checkpoint), shortest rejection sampling, DPO and
// long2short RL. Prints a table and a JSON line {long_acc, long_tokens, <method>_acc,
// <method>_tokens, best_method, best_token_cut, best_acc_drop, goal_met, then the driver's
// omp_threads, isa, maxrss_mb, rusage}; writes <out>/long2short.json (the method keys) and, with
// python3 and matplotlib, <out>/long2short.png (accuracy against mean tokens). Goal: the best
// method cuts mean answer tokens >= 30% at <= 2 points accuracy loss. Usage: k1rl-bench-long2short
// [--out DIR] [--configs DIR] [--merge-weights 0.5,0.5]
//                              [--quick] [--threads N] [--section.key=value ...]
//        (the overrides apply to every stage; --quick: the smoke setting of docs/long2short.md)
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "kernels/ops.h"
#include "lib/app/app.h"
#include "lib/eval/eval.h"
#include "lib/long2short/long2short.h"
#include "lib/loop/loop.h"
#include "lib/merge/merge.h"
#include "tools/bench/common/bench.h"

using namespace k1rl;

namespace {
Config make(const std::string& ini, const std::vector<std::string>& ov) {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::load(spec, ini, ov);
}

eval::EvalResult evaluate(const Config& cfg, const std::string& ckpt) {
  model::Model m(model::read_checkpoint_config(ckpt));
  model::load_checkpoint(ckpt, m, nullptr);
  auto tok = make_tokenizer(cfg);
  auto tasks = load_tasks(cfg.get_string("tasks.heldout_file"));
  Scorer scorer(reward_options_from_config(cfg), tasks);
  eval::EvalConfig ec = eval::EvalConfig::from(cfg);
  ec.samples = 0;  // greedy accuracy and greedy answer length
  return eval::evaluate(m, *tok, policy::prompt_format(cfg, *tok), tasks, scorer, ec,
                        static_cast<uint64_t>(cfg.get_int("run.seed")));
}

std::string latest(const Config& cfg) {
  const RunDir run = RunDir::from(cfg);
  return run.ckpt(train::latest_checkpoint(run));
}

struct Row {
  std::string method;
  eval::EvalResult r;
  double minutes;
};
}  // namespace

int main(int argc, char** argv) {
  bench::Driver d("long2short",
                  "held-out accuracy and answer tokens of every long2short method from one long "
                  "model");
  std::string out = "/tmp/k1rl-bench-long2short", configs = K1RL_SOURCE_DIR "/inputs/configs";
  std::string weights = "0.5,0.5";
  d.options().add_options()("out", bench::po::value(&out)->default_value(out),
                            "one folder per stage, the JSON and the PNG (removed first)")(
      "configs", bench::po::value(&configs)->default_value(configs),
      "folder of long-model.ini, short-model.ini and long2short-*.ini")(
      "merge-weights", bench::po::value(&weights)->default_value(weights),
      "weights of the long and the short model in the merge");
  if (!d.parse(argc, argv, true)) return d.exit_code();
  std::vector<std::string> extra = d.unknown();  // --section.key=value, for every stage
  if (d.quick())  // docs/long2short.md's smoke setting: every stage runs, nothing is learnt
    extra.insert(extra.begin(),
                 {"--train.sft_steps=20", "--optim.total_steps=20", "--train.sft_batch=8",
                  "--run.iterations=1", "--rollout.prompts_per_iteration=4",
                  "--train.groups_per_step=4", "--long2short.max_prompts=8", "--train.dpo_steps=4",
                  "--train.dpo_batch=4", "--eval.max_prompts=10"});
  try {
    std::filesystem::remove_all(out);
    io::make_dirs(out);
    // The command line wins over each stage's settings, except `fixed` (what makes the stage).
    auto stage = [&](const std::string& ini, std::vector<std::string> ov,
                     const std::vector<std::string>& fixed = {}) {
      ov.insert(ov.end(), extra.begin(), extra.end());
      ov.insert(ov.end(), fixed.begin(), fixed.end());
      return make(configs + "/" + ini, ov);
    };
    // Runs one stage's work as a phase of the resource table; returns its minutes.
    auto timed = [&](const std::string& phase, auto&& f) {
      bench::Meter m;
      f();
      d.record(m.stop(phase));
      return d.phases().back().wall_s / 60.0;
    };
    auto eval_phase = [&](const std::string& phase, const Config& cfg, const std::string& ckpt) {
      eval::EvalResult r;
      timed("eval " + phase, [&] { r = evaluate(cfg, ckpt); });
      return r;
    };
    std::vector<Row> rows;
    // 1. the long model (SFT on solution_long, then RL) and the short partner (SFT on solution).
    Config lc = stage("long-model.ini", {"--run.dir=" + out + "/long"});
    model::engine_setup(lc);  // --engine.precision=... as the apps do
    d.print_header();
    double m_long = timed("long model", [&] { loop::run_local(lc); });
    const std::string long_ckpt = latest(lc);
    rows.push_back({"long", eval_phase("long", lc, long_ckpt), m_long});
    // The short partner starts from the long model's SFT checkpoint (a shared base to merge on).
    const std::string long_sft = RunDir::from(lc).ckpt(0);
    Config sc = stage("short-model.ini", {"--run.dir=" + out + "/short"},
                      {"--run.iterations=0", "--train.init_checkpoint=" + long_sft});
    double m_short = timed("short model", [&] { loop::run_local(sc); });
    rows.push_back({"short (merge partner)", eval_phase("short", lc, latest(sc)), m_short});
    const std::vector<std::string> from_long = {"--train.init_checkpoint=" + long_ckpt};
    // 2. merge
    {
      merge::MergeSpec ms;
      auto w = merge::parse_inputs("a:" + weights.substr(0, weights.find(',')) +
                                   ",b:" + weights.substr(weights.find(',') + 1));
      ms.inputs = {{long_ckpt, w[0].weight, true}, {latest(sc), w[1].weight, true}};
      double m = timed("merge", [&] { merge::merge_checkpoints(ms, out + "/merge.h5"); });
      rows.push_back({"merge", eval_phase("merge", lc, out + "/merge.h5"), m});
    }
    // 3. shortest rejection sampling, 4. DPO, 5. long2short RL
    for (const auto& [name, ini] : std::vector<std::pair<std::string, std::string>>{
             {"shortest_rejection", "long2short-srs.ini"},
             {"dpo", "long2short-dpo.ini"},
             {"long2short_rl", "long2short-rl.ini"}}) {
      std::vector<std::string> ov = from_long;
      ov.push_back("--run.dir=" + out + "/" + name);
      Config c = name == "long2short_rl" ? stage(ini, ov, {"--train.sft_steps=0"}) : stage(ini, ov);
      // A method that cannot run (e.g. no correct sample to learn from) is reported, not fatal.
      try {
        double m = timed(name, [&] {
          if (name == "long2short_rl")
            loop::run_local(c);
          else
            long2short::run_train_mode(c, MPI_COMM_NULL);
        });
        rows.push_back({name, eval_phase(name, lc, latest(c)), m});
      } catch (const Error& e) {
        std::fprintf(stderr, "%s: %s failed: %s\n", d.program().c_str(), name.c_str(),
                     e.line().c_str());
        eval::EvalResult none;
        none.greedy_accuracy = none.answer_len_mean = std::nan("");
        rows.push_back({name + " (failed)", none, 0});
      }
    }
    // Table, JSON, plot.
    const eval::EvalResult& base = rows[0].r;
    std::printf("%-28s %8s %12s %10s %10s %8s\n", "method", "greedy", "mean tokens", "token cut",
                "acc drop", "minutes");
    bench::JsonLine json;
    json.num("long_acc", base.greedy_accuracy, 4).num("long_tokens", base.answer_len_mean, 2);
    std::string best;
    double best_cut = -1e9, best_drop = 0;
    for (const auto& row : rows) {
      const double cut = 1.0 - row.r.answer_len_mean / std::max(1e-9, base.answer_len_mean);
      const double drop = 100.0 * (base.greedy_accuracy - row.r.greedy_accuracy);
      std::printf("%-28s %8.3f %12.1f %9.1f%% %10.1f %8.2f\n", row.method.c_str(),
                  row.r.greedy_accuracy, row.r.answer_len_mean, 100 * cut, drop, row.minutes);
      if (row.method == "long" || row.method.rfind("short (", 0) == 0 ||
          row.method.find("(failed)") != std::string::npos)
        continue;
      json.num(row.method + "_acc", row.r.greedy_accuracy, 4)
          .num(row.method + "_tokens", row.r.answer_len_mean, 2);
      // best: the largest cut among methods within 2 points; else the smallest accuracy drop
      const bool ok = drop <= 2.0, best_ok = best_drop <= 2.0 && !best.empty();
      if (best.empty() || (ok && (!best_ok || cut > best_cut)) ||
          (!ok && !best_ok && drop < best_drop)) {
        best = row.method;
        best_cut = cut;
        best_drop = drop;
      }
    }
    if (best.empty()) best = "none", best_cut = 0, best_drop = 0;
    // Without accuracy to keep, a token cut means nothing.
    const bool goal = base.greedy_accuracy > 0 && best_cut >= 0.30 && best_drop <= 2.0;
    if (base.greedy_accuracy <= 0)
      std::fprintf(stderr,
                   "%s: warning: the long model answers no held-out prompt correctly; the "
                   "comparison is meaningless (train it longer)\n",
                   d.program().c_str());
    json.str("best_method", best)
        .num("best_token_cut", best_cut, 4)
        .num("best_acc_drop", best_drop, 2)
        .boolean("goal_met", goal);
    io::publish_text(out + "/long2short.json", json.text() + "\n");
    const std::string plot = std::string("/usr/bin/python3 ") + K1RL_SOURCE_DIR +
                             "/tools/bench/long2short/plot.py " + out + "/long2short.json " + out +
                             "/long2short.png";
    if (std::system(plot.c_str()) != 0)
      std::fprintf(stderr, "%s: warning: no PNG (python3 with matplotlib?)\n", d.program().c_str());
    d.json().append(json);
    d.finish();  // the resource table, then the JSON line
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", d.program().c_str(), e.line().c_str());
    return 2;
  }
  return 0;
}
