// The full option schema of the shared config file: every module's section, declared once.
// One config file serves every app of a run, so every app knows every section.
#include "lib/app/app.h"
#include "lib/comm/comm.h"
#include "lib/eval/eval.h"
#include "lib/long2short/long2short.h"
#include "lib/loop/loop.h"
#include "lib/model/model.h"
#include "lib/optim/optim.h"
#include "lib/policy/policy.h"
#include "lib/reward/reward.h"
#include "lib/rl/rl.h"
#include "lib/rollout/rollout.h"
#include "lib/tasks/tasks.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/train/train.h"

namespace k1rl {

namespace {
void declare_run_options(ConfigSpec& s) {
  s.add_string("run.dir", "run", "run directory (on the parallel filesystem on a cluster)")
      .add_int("run.seed", 1234, "master seed; every random stream is derived from it")
      .add_choice("run.log_level", "info", {"error", "warn", "info", "debug"},
                  "log level (the K1RL_LOG environment variable wins)");
}
}  // namespace

void declare_all_options(ConfigSpec& spec) {
  declare_run_options(spec);
  rl::declare_rl_options(spec);
  declare_comm_options(spec);
  model::declare_model_options(spec);
  model::declare_engine_options(spec);
  optim::declare_optim_options(spec);
  declare_tokenizer_options(spec);
  declare_tasks_options(spec);
  declare_reward_options(spec);
  policy::declare_policy_options(spec);
  train::declare_train_options(spec);
  rollout::declare_rollout_options(spec);
  loop::declare_loop_options(spec);
  loop::declare_loop_role_options(spec);
  eval::declare_eval_options(spec);
  long2short::declare_long2short_options(spec);
}

std::vector<const OptionGroup*> all_option_groups() {
  return {&model::model_options(),
          &model::engine_options(),
          &optim::optim_options(),
          &rl::loss_options(),
          &rl::sampler_options(),
          &rl::dpo_options(),
          &reward_options(),
          &task_set_options(),
          &policy::policy_options(),
          &eval::eval_options(),
          &train::train_options(),
          &rollout::rollout_options(),
          &long2short::sample_options()};
}

void check_all_options(const Config& cfg) {
  model::ModelConfig::from_config(cfg);
  model::EngineConfig::from(cfg);
  optim::OptimConfig::from_config(cfg);
  rl::LossConfig::from(cfg, 0);
  rl::SamplerConfig::from(cfg);
  rl::DpoConfig::from(cfg);
  reward_options_from_config(cfg);
  task_set_spec_from_config(cfg);
  policy::PolicyConfig::from(cfg);
  eval::EvalConfig::from(cfg);
  bcast_chunk_floats(cfg);
  train::TrainConfig::from(cfg);
  rollout::RolloutConfig::from(cfg);
  long2short::SampleConfig::from(cfg);
  parse_log_level(cfg.get_string("run.log_level"));
}

}  // namespace k1rl
