// The k1rl-inspect command line: `<command> [options] PATH...`, the help of each command, and the
// dispatch. Options are few and per command, so they are parsed here rather than through the run
// config schema (k1rl-inspect reads a run's config.ini, it does not take one).
#include <set>

#include "lib/inspect/inspect.h"

namespace k1rl::inspect {

namespace {

const char* const kOverview = R"(usage: k1rl-inspect <command> [options] PATH...
Reads the HDF5 outputs of a run (published files only, so it works while the run goes on).

commands:
  summary RUN           iterations, time per phase, reward / accuracy / length / KL / entropy
                        (first, last, min, max with their iteration), eval table, checkpoints,
                        shards, and what is still running
  answers RUN|SHARD     prompts and answers as text with reward components, status, segments
                        and iterations [--iteration N] [--status S] [--limit K] [--json]
  buffer RUN            per iteration: status counts, answer-length histogram, parked ages
  ckpt A [B]            config, step, iteration, per-tensor norms; with B the relative change

`k1rl-inspect <command> --help` gives the details of one command. Metric columns: docs/metrics.md.

exit codes: 0 ok, 2 bad input (a missing, truncated or foreign file, or a format version this
build does not read: one line names the file and why), 64 bad command line.

examples:
  k1rl-inspect summary run
  k1rl-inspect answers run --iteration 12 --status truncated
  k1rl-inspect answers run/buffer/it_000012.r0000.h5 --json > answers.jsonl
  k1rl-inspect ckpt run/ckpt/it_000000.h5 run/ckpt/it_000400.h5
)";

const char* const kSummary = R"(usage: k1rl-inspect summary RUN
A run directory at a glance (RUN is the run.dir of the run):
  - the model, tokenizer and algorithm from RUN/config.ini;
  - what is running: the job holding RUN/.lock (host, pid, Slurm job), temporary files being
    written, and the iteration in flight (shards published beyond ckpt/latest);
  - checkpoints in RUN/ckpt (and which one `latest` names), buffer shards in RUN/buffer;
  - time per phase from metrics.h5: the SFT warm-up, and rollout / train / whole iteration
    (mean and total seconds), reward service time;
  - per metric (reward_mean, accuracy, answer_len_mean, kl, loss, tokens_per_s from /iteration;
    entropy, grad_norm from /train): first, last, min and max, each with its iteration;
  - the eval table of RUN/eval.h5 when k1rl-eval has written one.
Units and meanings of the columns: docs/metrics.md.
)";

const char* const kAnswers =
    R"(usage: k1rl-inspect answers RUN|SHARD [--iteration N] [--status S] [--limit K] [--json]
                             [--config FILE]
Prompts and answers of the replay buffer as text, decoded with the run's own tokenizer (the
[tokenizer] section of RUN/config.ini; for a SHARD, the config.ini of the run it lies in).
RUN reads every published shard of RUN/buffer (or those of one iteration); SHARD reads one file.
Per answer: shard iteration and rank, prompt id, group (the prompt draw it belongs to, as
iteration:rank:index) and sample (of k), task, status (open:
parked for the next iteration | finished | truncated: hit rollout.max_answer_tokens | repeated:
stopped by repeat detection), ready (scored and its whole group ended: trainable), reward and
its components, answer tokens, segments and the iterations that generated them.

options:
  --iteration N   only the shards of iteration N
  --status S      only answers with status S: open, finished, truncated, repeated, ended (not
                  open) or ready
  --limit K       at most K answers per iteration, spread evenly over its rows (0: all)
  --json          JSON Lines: one object per answer with the keys iteration, rank, prompt_id,
                  group_id, group ("iteration:rank:index"), sample, group_size, task,
                  status, ready, reward, components
                  (name -> value), iteration_started, n_segments, segment_iterations (list),
                  prompt_tokens, answer_tokens, prompt, answer (text, invalid UTF-8 as U+FFFD)
  --config FILE   the run's config.ini (default: RUN/config.ini, or ../../config.ini of SHARD)
)";

const char* const kBuffer = R"(usage: k1rl-inspect buffer RUN
The replay buffer (RUN/buffer, format buffer/1) per iteration: ranks (shards), rows, status
counts (open, finished, truncated, repeated), ready rows, answer length in tokens (p50, p90, max)
and a histogram of it (8 equal bins up to the longest answer in the buffer), and the ages of the
parked open answers (iterations since each was started: "age:count"). Shards that retention
(run.keep_* options) has deleted are simply absent.
)";

const char* const kCkpt = R"(usage: k1rl-inspect ckpt A [B]
One checkpoint (format checkpoint/1): the model config it was written with, step, iteration,
parameters, whether it holds optimizer state and a tokenizer, then per tensor its shape, L2 norm,
RMS and max |x|. With B (same model config): per tensor ||B - A|| / ||A|| and the whole model's,
e.g. to see how far RL moved the policy from the SFT warm-up:
  k1rl-inspect ckpt run/ckpt/it_000000.h5 run/ckpt/latest
(a `latest` pointer file is followed to the checkpoint it names).
)";

const std::set<std::string> kCommands = {"summary", "answers", "buffer", "ckpt"};

ConfigError usage(const std::string& what, const std::string& why, const std::string& cmd) {
  return ConfigError(what, why, "see k1rl-inspect " + (cmd.empty() ? "" : cmd + " ") + "--help");
}

int64_t parse_int(const std::string& opt, const std::string& v, const std::string& cmd) {
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty() || n < 0)
    throw usage("option " + opt + " takes a number >= 0", "got '" + v + "'", cmd);
  return n;
}

}  // namespace

std::string help_text(const std::string& command) {
  if (command == "summary") return kSummary;
  if (command == "answers") return kAnswers;
  if (command == "buffer") return kBuffer;
  if (command == "ckpt") return kCkpt;
  return kOverview;
}

Command parse_command_line(int argc, const char* const* argv) {
  Command c;
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  if (i < args.size() && (args[i] == "--help" || args[i] == "-h" || args[i] == "help")) {
    c.help = true;
    if (i + 1 < args.size() && kCommands.count(args[i + 1])) c.name = args[i + 1];
    return c;
  }
  if (i >= args.size()) throw usage("no command", "give one of summary, answers, buffer, ckpt", "");
  c.name = args[i++];
  if (!kCommands.count(c.name))
    throw usage("unknown command '" + c.name + "'",
                "the commands are summary, answers, buffer, ckpt", "");
  for (; i < args.size(); ++i) {
    std::string a = args[i], value;
    if (a == "--help" || a == "-h") {
      c.help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      c.paths.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) value = a.substr(eq + 1), a = a.substr(0, eq);
    const bool takes_value =
        a == "--iteration" || a == "--status" || a == "--limit" || a == "--config";
    const bool known = takes_value || a == "--json";
    if (!known || c.name != "answers")
      throw usage("unknown option '" + a + "' for " + c.name,
                  c.name == "answers" ? "answers takes --iteration --status --limit --json --config"
                                      : c.name + " takes no options",
                  c.name);
    if (takes_value && !inline_value) {
      if (i + 1 >= args.size()) throw usage("option " + a + " needs a value", "none given", c.name);
      value = args[++i];
    }
    if (a == "--json") {
      if (inline_value) throw usage("option --json takes no value", "got '" + value + "'", c.name);
      c.json = true;
    } else if (a == "--iteration") {
      c.iteration = parse_int(a, value, c.name);
    } else if (a == "--limit") {
      c.limit = parse_int(a, value, c.name);
    } else if (a == "--config") {
      c.config = value;
    } else {
      static const std::set<std::string> statuses = {"open",     "finished", "truncated",
                                                     "repeated", "ended",    "ready"};
      if (!statuses.count(value))
        throw usage("bad --status '" + value + "'",
                    "use open, finished, truncated, repeated, ended or ready", c.name);
      c.status = value;
    }
  }
  if (c.help) return c;
  const size_t want_min = 1, want_max = c.name == "ckpt" ? 2 : 1;
  if (c.paths.size() < want_min || c.paths.size() > want_max)
    throw usage(c.name + " takes " + (want_max == 2 ? "one or two paths" : "one path"),
                strfmt("got %zu", c.paths.size()), c.name);
  return c;
}

void run_command(const Command& c, std::ostream& out) {
  if (c.name == "summary") {
    summary(c.paths[0], out);
  } else if (c.name == "answers") {
    answers(c.paths[0], {c.iteration, c.status, c.limit}, c.json, c.config, out);
  } else if (c.name == "buffer") {
    buffer_report(c.paths[0], out);
  } else if (c.name == "ckpt") {
    ckpt_report(c.paths[0], c.paths.size() > 1 ? c.paths[1] : "", out);
  } else {
    throw usage("unknown command '" + c.name + "'",
                "the commands are summary, answers, buffer, ckpt", "");
  }
}

}  // namespace k1rl::inspect
