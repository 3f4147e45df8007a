// k1rl-tasks: writes deterministic JSON Lines task sets, <out_dir>/<name>.train.jsonl and
// <name>.heldout.jsonl, from the [tasks] section; --standard rewrites the committed set in
// inputs/tasks/ (add-easy is the RL default: 1-2 digit addition, "12+7=").
#include <filesystem>

#include "lib/app/app.h"
#include "lib/tasks/tasks.h"

namespace {

void write_set(const k1rl::TaskSetSpec& spec, const std::string& dir) {
  k1rl::TaskSet set = k1rl::generate_tasks(spec);
  std::string name = spec.name.empty() ? spec.kind : spec.name;
  std::filesystem::create_directories(dir);
  k1rl::save_tasks(dir + "/" + name + ".train.jsonl", set.train);
  k1rl::save_tasks(dir + "/" + name + ".heldout.jsonl", set.heldout);
  K1RL_LOG_INFO(
      "wrote %s/%s.{train,heldout}.jsonl: %zu + %zu %s tasks, difficulty %d..%d, seed %llu",
      dir.c_str(), name.c_str(), set.train.size(), set.heldout.size(), spec.kind.c_str(),
      spec.min_difficulty, spec.max_difficulty, (unsigned long long)spec.seed);
}

int run(k1rl::AppContext& ctx) {
  std::string dir = ctx.cfg.get_string("tasks.out_dir");
  if (ctx.flag("standard") == "1") {
    // The committed task files (docs/reward.md lists them).
    struct Std {
      const char* name;
      const char* kind;
      int lo, hi;
      int64_t train, heldout;
    };
    const Std sets[] = {{"add-easy", "addition", 1, 2, 500, 100},
                        {"addition", "addition", 1, 10, 300, 60},
                        {"multiplication", "multiplication", 1, 10, 300, 60},
                        {"countdown", "countdown", 1, 10, 300, 60},
                        {"linear", "linear", 1, 10, 300, 60},
                        {"code", "code", 1, 10, 150, 40}};
    uint64_t seed = static_cast<uint64_t>(ctx.cfg.get_int("tasks.seed"));
    for (const auto& s : sets) {
      k1rl::TaskSetSpec spec;
      spec.name = s.name;
      spec.kind = s.kind;
      spec.min_difficulty = s.lo;
      spec.max_difficulty = s.hi;
      spec.train_count = s.train;
      spec.heldout_count = s.heldout;
      spec.seed = seed;
      write_set(spec, dir);
    }
    return k1rl::kExitOk;
  }
  write_set(k1rl::task_set_spec_from_config(ctx.cfg), dir);
  return k1rl::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  k1rl::AppInfo info;
  info.name = "tasks";
  info.summary =
      "generate verifiable task sets (JSON Lines, train + held-out) from the [tasks] section";
  info.use_mpi = false;
  info.flags = {{"standard",
                 "rewrite the committed task files (add-easy, addition, multiplication, "
                 "countdown, linear, code) in tasks.out_dir",
                 "", false}};
  return k1rl::app_main(argc, argv, info, run);
}
