// k1rl-eval: greedy and sampled accuracy (pass@1, pass@k) and mean answer length of a checkpoint
// on the held-out task file; appends a row to <run>/eval.h5 and prints a table. --dump FILE.jsonl
// also writes every answer (prompt as the model saw it, answer, extracted answer, reason, reward).
#include <cstdio>

#include "lib/app/app.h"
#include "lib/eval/eval.h"
#include "lib/loop/loop.h"

namespace {
int run(k1rl::AppContext& ctx) {
  const k1rl::Config& cfg = ctx.cfg;
  const k1rl::RunDir run = k1rl::RunDir::from(cfg);
  std::string ckpt = k1rl::RunDir::resolve_checkpoint(ctx.flag("checkpoint"));
  int64_t it = -1;
  if (ckpt.empty()) {
    it = k1rl::train::latest_checkpoint(run);
    if (it < 0)
      throw k1rl::ConfigError("no checkpoint to evaluate", "run.dir " + run.root() + " has none",
                              "give --checkpoint FILE or run k1rl-train first");
    ckpt = run.ckpt(it);
  }
  k1rl::model::Model model(k1rl::model::read_checkpoint_config(ckpt));
  k1rl::model::TrainState st = k1rl::model::load_checkpoint(ckpt, model, nullptr);
  if (it < 0) it = st.iteration;
  auto tok = k1rl::make_tokenizer(cfg);
  std::string tasks_file =
      ctx.flag("tasks").empty() ? cfg.get_string("tasks.heldout_file") : ctx.flag("tasks");
  std::vector<k1rl::Task> tasks = k1rl::load_tasks(tasks_file);
  k1rl::Scorer scorer(k1rl::reward_options_from_config(cfg), tasks);
  k1rl::eval::EvalResult r = k1rl::eval::evaluate(
      model, *tok, k1rl::policy::prompt_format(cfg, *tok), tasks, scorer,
      k1rl::eval::EvalConfig::from(cfg), static_cast<uint64_t>(cfg.get_int("run.seed")));
  std::printf("%s", k1rl::eval::format_table(
                        {{k1rl::strfmt("%s (it %lld)", ckpt.c_str(), (long long)it), r}})
                        .c_str());
  const std::string out = run.eval();
  k1rl::io::make_dirs(run.root());
  k1rl::eval::append_eval(out, r, ckpt, it);
  if (!ctx.flag("dump").empty()) {
    k1rl::eval::write_dump(ctx.flag("dump"), r.records);
    K1RL_LOG_INFO("wrote %zu answers to %s", r.records.size(), ctx.flag("dump").c_str());
  }
  K1RL_LOG_INFO("evaluated %s on %s in %.1f s -> %s", ckpt.c_str(), tasks_file.c_str(), r.seconds,
                out.c_str());
  return k1rl::kExitOk;
}
}  // namespace

int main(int argc, char** argv) {
  k1rl::AppInfo info;
  info.name = "eval";
  info.summary = "held-out accuracy (greedy, pass@1, pass@k) and answer length of a checkpoint";
  info.flags = {
      {"checkpoint", "checkpoint to evaluate (default: <run.dir>/ckpt/latest)", ""},
      {"tasks", "task file (default: tasks.heldout_file)", ""},
      {"dump", "also write every answer to this JSON Lines file (one object per answer)", ""}};
  return k1rl::app_main(argc, argv, info, run);
}
