// k1rl inspect: what k1rl-inspect prints about a run directory, a buffer shard or a checkpoint.
// It reads published files only (never a .tmp- name), so it works on a live run; a file that is
// truncated, of another kind or of a newer format version is an IoError naming the file and why.
// Text tables for people; `answers --json` writes JSON Lines for scripts (tools/plot.py).
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "lib/buffer/buffer.h"
#include "lib/core/core.h"
#include "lib/rundir/rundir.h"
#include "lib/tokenizer/tokenizer.h"

namespace k1rl::inspect {

// One k1rl-inspect command line: `k1rl-inspect <command> [options] PATH...`.
struct Command {
  std::string name;                // summary | answers | buffer | ckpt ("" with --help alone)
  std::vector<std::string> paths;  // positional arguments
  bool help = false;               // --help: print help_text(name)
  // answers:
  int64_t iteration = -1;  // --iteration N (-1: every iteration present)
  std::string status;      // --status S: open|finished|truncated|repeated|ended|ready ("" all)
  int64_t limit = 0;       // --limit K: at most K answers per iteration, spread evenly (0 all)
  bool json = false;       // --json: one JSON object per answer and line
  std::string config;      // --config FILE: the run's config.ini (default: found beside the run)
};

// Parses argv (argv[0] is the program). Throws ConfigError on a bad command line (exit 64).
Command parse_command_line(int argc, const char* const* argv);
// The help of one command, or the overview for "" (every command, exit codes, examples).
std::string help_text(const std::string& command);
// Runs a parsed command, writing its report to `out`. Throws a k1rl::Error on bad input.
void run_command(const Command& cmd, std::ostream& out);

// --- the commands ---------------------------------------------------------------------------
// summary RUN: iterations, time per phase, reward / accuracy / answer length / KL / entropy first,
// last, min and max with their iteration, the eval table, checkpoints, shards, and what is still
// running (the job holding <run>/.lock, temporaries being written, the iteration in flight).
void summary(const std::string& run_dir, std::ostream& out);

struct AnswerFilter {
  int64_t iteration = -1;
  std::string status;
  int64_t limit = 0;
};
// answers RUN|SHARD: prompt and answer text decoded with the run's tokenizer, reward and its
// components, status, readiness, segments and the iterations that generated the answer.
void answers(const std::string& run_or_shard, const AnswerFilter& filter, bool json,
             const std::string& config_path, std::ostream& out);

// buffer RUN: per iteration: ranks, rows, status counts, ready rows, answer-length percentiles
// and histogram, and the ages (iterations since started) of parked open answers.
void buffer_report(const std::string& run_dir, std::ostream& out);

// ckpt A [B]: format, model config, step, iteration, tokenizer, per-tensor shape, L2 norm, RMS
// and max |x|; with B (same model config), per-tensor ||B − A|| / ||A||.
void ckpt_report(const std::string& a, const std::string& b, std::ostream& out);

// --- shared helpers (exposed for tests) -----------------------------------------------------
// The tokenizer of a run: [tokenizer] of its config.ini (byte when the file says nothing).
// Throws ConfigError when the file is missing and IoError/ConfigError when it is unreadable.
std::unique_ptr<Tokenizer> run_tokenizer(const std::string& config_ini);
// Text made valid UTF-8 (bad bytes become U+FFFD), so JSON and terminals can show it.
std::string printable(const std::string& bytes);
// Published shards of a run, or the one shard file given; skips shards deleted meanwhile
// (retention on a live run). Each read is validated.
std::vector<buffer::Shard> read_shards(const std::string& run_or_shard, int64_t iteration);

}  // namespace k1rl::inspect
