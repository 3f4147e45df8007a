// The long2short train modes of k1rl-train (a fresh run directory, from train.init_checkpoint):
//   shortest_rejection: rank 0 samples long2short.samples answers per train prompt and writes the
//     shortest correct one of each as <run>/shortest_rejection.jsonl (task JSON Lines with
//     `solution`); every rank then runs train.sft_steps SFT steps on it (sft_style = short).
//   dpo: rank 0 samples the same way, builds the pairs and their π_ref sums with the starting
//     weights and publishes <run>/dpo_pairs.h5 (reused when present: π_ref is computed once);
//     every rank then runs train.dpo_steps DPO steps (data parallel).
// Both publish ckpt/it_000000.h5 and metrics rows in <run>/metrics.h5 (table train).
#include "lib/io/io.h"
#include "lib/long2short/long2short.h"
#include "lib/loop/loop.h"
#include "lib/rl/rl.h"

namespace k1rl::long2short {

namespace {
void barrier(MPI_Comm comm) {
  if (comm != MPI_COMM_NULL) K1RL_MPI_CHECK(MPI_Barrier(comm));
}

// Rank 0 samples with the trainer's (starting) weights; returns the samples (empty elsewhere).
std::vector<PromptSamples> sample_on_rank0(const Config& cfg, train::Trainer& tr,
                                           const std::vector<Task>& tasks, int rank) {
  if (rank != 0) return {};
  Scorer scorer(reward_options_from_config(cfg), tasks);
  const SampleConfig sc = SampleConfig::from(cfg);
  std::vector<PromptSamples> s =
      sample_scored(tr.model(), tr.tokenizer(), tr.prompt_format(), tasks, scorer, sc);
  int64_t answers = 0, correct = 0;
  double len = 0;
  for (const auto& p : s)
    for (size_t j = 0; j < p.answers.size(); ++j) {
      ++answers;
      correct += p.correct[j];
      len += static_cast<double>(p.answers[j].size());
    }
  K1RL_LOG_INFO("sampled %lld answers to %zu prompts: %.3f correct, %.1f tokens on average",
                static_cast<long long>(answers), s.size(),
                static_cast<double>(correct) / std::max<int64_t>(1, answers),
                len / std::max<int64_t>(1, answers));
  return s;
}
}  // namespace

void run_train_mode(const Config& cfg, MPI_Comm comm) {
  int rank = 0;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
  const std::string mode = cfg.get_string("train.mode");
  const std::string init = cfg.get_string("train.init_checkpoint");
  if (init.empty())
    throw ConfigError("train.mode = " + mode + " needs a starting checkpoint",
                      "train.init_checkpoint is empty",
                      "set train.init_checkpoint = the long model's checkpoint");
  const RunDir run = RunDir::from(cfg);
  if (train::latest_checkpoint(run) >= 0)
    throw ConfigError("run directory " + run.root() + " already has checkpoints",
                      "train.mode = " + mode + " starts a run", "use a fresh --run.dir");
  if (rank == 0) loop::write_run_config(cfg);
  train::Trainer tr(cfg, comm);
  tr.load_weights(init);
  K1RL_LOG_INFO("%s from %s", mode.c_str(), init.c_str());
  const std::vector<Task> tasks = load_tasks(cfg.get_string("tasks.train_file"));
  std::vector<io::Row> rows;
  if (mode == "shortest_rejection") {
    const std::string data = run.shortest_rejection();
    if (rank == 0 && !io::file_exists(data)) {
      std::vector<Task> srs =
          shortest_rejection(sample_on_rank0(cfg, tr, tasks, rank), tasks, tr.tokenizer());
      save_tasks(data, srs);
      K1RL_LOG_INFO("shortest rejection sampling: %zu of %zu prompts kept -> %s", srs.size(),
                    tasks.size(), data.c_str());
    }
    barrier(comm);
    std::vector<Task> srs = load_tasks(data);
    if (srs.empty())
      throw InputError("shortest rejection sampling kept no prompt", "no sample was correct",
                       "start from a stronger checkpoint or raise long2short.samples");
    rows = tr.sft(srs, cfg.get_int_min("train.sft_steps", 1));
  } else if (mode == "dpo") {
    const std::string data = run.dpo_pairs();
    const rl::DpoConfig dc = rl::DpoConfig::from(cfg);
    if (rank == 0 && !io::file_exists(data)) {
      std::vector<DpoPair> pairs =
          build_dpo_pairs(sample_on_rank0(cfg, tr, tasks, rank), tr.model(), dc.long_ratio,
                          train::TrainConfig::from(cfg).micro_batch_tokens);
      save_dpo_pairs(data, pairs, init);
      K1RL_LOG_INFO("DPO: %zu pairs with reference log-probs -> %s", pairs.size(), data.c_str());
    }
    barrier(comm);
    std::vector<DpoPair> pairs = load_dpo_pairs(data);
    std::vector<train::DpoPairRef> refs;
    for (const auto& p : pairs)
      refs.push_back({&p.chosen, &p.rejected, p.prompt_len, p.ref_chosen, p.ref_rejected});
    rows = tr.dpo(refs, dc.steps, dc.batch);
  } else {
    throw ConfigError("train.mode = " + mode, "is not a long2short mode",
                      "use shortest_rejection or dpo");
  }
  if (rank == 0) io::append_rows(run.metrics(), "metrics/1", "train", rows);
  tr.save(0);
}

}  // namespace k1rl::long2short
