// k1rl-inspect on run directories made here: a real tiny run (lib/loop in process) for summary,
// hand-written shards with known text for answers and buffer (byte and BPE tokenizers), two
// checkpoints with known parameters for ckpt, a live run (the lock held by a child process), and
// truncated, foreign and newer-format files, through the library and through the binary.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/app/app.h"
#include "lib/eval/eval.h"
#include "lib/inspect/inspect.h"
#include "lib/io/io.h"
#include "lib/json/json.h"
#include "lib/loop/loop.h"

using namespace k1rl;
namespace fs = std::filesystem;

namespace {

std::string fresh(const std::string& name) {
  std::string d = "/tmp/k1rl-inspect-" + name + "-" + std::to_string(getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

Config run_config(const std::string& dir, int64_t iterations, std::vector<std::string> more = {}) {
  ConfigSpec spec;
  declare_all_options(spec);
  std::vector<std::string> o = {
      "--run.dir=" + dir, "--run.iterations=" + std::to_string(iterations),
      "--tasks.train_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.train.jsonl",
      "--tasks.heldout_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.heldout.jsonl"};
  o.insert(o.end(), more.begin(), more.end());
  return Config::load(spec, K1RL_SOURCE_DIR "/tests/integration/loop/tiny-test.ini", o);
}

std::string capture(const std::function<void(std::ostream&)>& f) {
  std::ostringstream s;
  f(s);
  return s.str();
}

// The line of `text` that starts with `prefix` (after spaces), or "".
std::string line_of(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.find_first_not_of(' ') != std::string::npos &&
        l.compare(l.find_first_not_of(' '), prefix.size(), prefix) == 0)
      return l;
  return "";
}

// The words of a line joined by single spaces.
std::string words(const std::string& line) {
  std::istringstream in(line);
  std::string w, out;
  while (in >> w) out += (out.empty() ? "" : " ") + w;
  return out;
}

// Runs the k1rl-inspect binary; returns its exit code, stdout in `out`, stderr in `err`.
int run_binary(const std::string& args, std::string& out, std::string& err) {
  const std::string dir = fresh("bin");
  const std::string cmd =
      std::string(K1RL_INSPECT_BIN) + " " + args + " >" + dir + "/out 2>" + dir + "/err";
  const int rc = std::system(cmd.c_str());
  out = io::read_text(dir + "/out");
  err = io::read_text(dir + "/err");
  fs::remove_all(dir);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A trajectory whose prompt and answer are the encodings of the given texts.
buffer::Trajectory traj(const Tokenizer& tok, const std::string& prompt, const std::string& answer,
                        buffer::Status st, int64_t it_started, std::vector<int32_t> segs,
                        double correct) {
  buffer::Trajectory t;
  t.prompt_id = 17;
  t.group_id = buffer::GroupKey{3, 1, 7}.pack();
  t.group_size = 2;
  t.task = "addition";
  t.status = st;
  t.ready = st != buffer::Status::open;
  t.iteration_started = it_started;
  t.tokens = tok.encode(prompt, true);
  t.prompt_len = static_cast<int32_t>(t.tokens.size());
  for (int32_t id : tok.encode(answer, true)) t.tokens.push_back(id);
  const size_t n = static_cast<size_t>(t.answer_len());
  t.logprobs.assign(n, -0.5f);
  t.segment_iter.resize(n);
  for (size_t i = 0; i < n; ++i) t.segment_iter[i] = segs[std::min(i, segs.size() - 1)];
  t.n_segments = static_cast<int32_t>(segs.size());
  t.components = {correct, -0.25, 0.0};
  t.reward = correct - 0.25;
  return t;
}

// <dir>/config.ini (defaults + `more`) and one shard of iteration 4 with four answers.
void write_hand_run(const std::string& dir, const Tokenizer& tok, std::vector<std::string> more) {
  ConfigSpec spec;
  declare_all_options(spec);
  io::publish_text(dir + "/config.ini", Config::parse(spec, "", "test", more).to_ini());
  buffer::Shard s;
  s.iteration = 4;
  s.rank = 1;
  s.component_names = {"correct", "length", "repetition"};
  s.rows.push_back(traj(tok, "12+7=", "19", buffer::Status::finished, 3, {3, 4}, 1.0));
  s.rows.back().sample = 0;
  s.rows.push_back(traj(tok, "12+7=", "the 12 the 12 the", buffer::Status::truncated, 4, {4}, 0));
  s.rows.back().sample = 1;
  s.rows.push_back(
      traj(tok, "3+4=", "line one\nline\x01two", buffer::Status::open, 2, {2, 3, 4}, 0));
  s.rows.push_back(traj(tok, "3+4=", "7", buffer::Status::open, 4, {4}, 0));
  buffer::write_shard(RunDir(dir).buffer_dir(), s);
}

}  // namespace

TEST(InspectSummary, RealTinyRunFirstLastMinMaxAndEval) {
  const std::string dir = fresh("summary");
  Config cfg = run_config(dir, 3);
  loop::run_local(cfg);
  eval::EvalResult er;
  er.prompts = 20;
  er.greedy_accuracy = 0.35;
  er.pass1 = 0.3;
  er.passk = 0.55;
  er.k = 4;
  er.answer_len_mean = 5.5;
  eval::append_eval(RunDir(dir).eval(), er, RunDir(dir).ckpt(3), 3);

  const std::string s = capture([&](std::ostream& o) { inspect::summary(dir, o); });
  EXPECT_NE(s.find("iterations: 3 trained (0..2)"), std::string::npos) << s;
  EXPECT_NE(s.find("checkpoints: 4 in ckpt/ (iterations 0, 1, 2, 3); latest it_000003.h5"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("buffer: 3 shard(s) of 3 iteration(s) (0, 1, 2)"), std::string::npos) << s;
  EXPECT_NE(s.find("not running"), std::string::npos) << s;
  EXPECT_NE(s.find("tokenizer byte"), std::string::npos) << s;
  // The answer-length line carries the table's first, last, min and max with their iterations.
  auto t = io::read_table(dir + "/metrics.h5", "iteration");
  const auto& len = t.at("answer_len_mean");
  size_t lo = 0, hi = 0;
  for (size_t i = 0; i < len.size(); ++i) {
    if (len[i] < len[lo]) lo = i;
    if (len[i] > len[hi]) hi = i;
  }
  const std::string want = strfmt("%10.4g %6d %10.4g %6d %10.4g %6zu %10.4g %6zu", len[0], 0,
                                  len[2], 2, len[lo], lo, len[hi], hi);
  EXPECT_NE(line_of(s, "answer_len_mean").find(want), std::string::npos)
      << "want '" << want << "' in\n"
      << s;
  EXPECT_NE(line_of(s, "entropy (/train)"), "") << s;
  EXPECT_NE(line_of(s, "rollout per iteration").find("over 3 row(s)"), std::string::npos) << s;
  // The eval row as written.
  EXPECT_NE(s.find("        3      20    0.350    0.300    0.550   4       5.5"), std::string::npos)
      << s;
  fs::remove_all(dir);
}

TEST(InspectSummary, LiveRunNamesTheLockHolderAndTheIterationInFlight) {
  const std::string dir = fresh("live");
  Config cfg = run_config(dir, 2);
  loop::run_local(cfg);
  // A shard of iteration 2 published and a checkpoint being written: iteration 2 in flight.
  buffer::Shard sh;
  sh.iteration = 2;
  sh.component_names = {"correct"};
  buffer::write_shard(RunDir(dir).buffer_dir(), sh);
  std::ofstream(dir + "/ckpt/it_000003.h5.tmp-host-123") << "partial";
  int to_child[2], from_child[2];
  ASSERT_EQ(pipe(to_child), 0);
  ASSERT_EQ(pipe(from_child), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(to_child[1]);
    close(from_child[0]);
    loop::RunLock lock{RunDir(dir)};
    char c = 1;
    (void)!write(from_child[1], &c, 1);
    (void)!read(to_child[0], &c, 1);  // hold the lock until the parent is done
    _exit(0);
  }
  close(to_child[0]);
  close(from_child[1]);
  char c;
  ASSERT_EQ(read(from_child[0], &c, 1), 1);
  const std::string s = capture([&](std::ostream& o) { inspect::summary(dir, o); });
  close(to_child[1]);
  waitpid(pid, nullptr, 0);
  EXPECT_NE(s.find(strfmt("pid %d", static_cast<int>(pid))), std::string::npos) << s;
  EXPECT_NE(s.find("state: running"), std::string::npos) << s;
  EXPECT_NE(s.find("ckpt/it_000003.h5.tmp-host-123"), std::string::npos) << s;
  EXPECT_NE(s.find("in flight: the policy is θ_2; rollout iteration(s) 2 (1 shard(s) published)"),
            std::string::npos)
      << s;
  // Not running any more: the temporary is then one a killed writer left.
  const std::string after = capture([&](std::ostream& o) { inspect::summary(dir, o); });
  EXPECT_NE(after.find("not running"), std::string::npos) << after;
  EXPECT_NE(after.find("left by a killed writer"), std::string::npos) << after;
  fs::remove_all(dir);
}

TEST(InspectAnswers, TextWithStatusSegmentsAndComponents) {
  const std::string dir = fresh("answers");
  auto tok = make_byte_tokenizer();
  write_hand_run(dir, *tok, {});
  const std::string s = capture([&](std::ostream& o) { inspect::answers(dir, {}, false, "", o); });
  EXPECT_NE(s.find("it 4 r1 | prompt 17 group 3:1:7 sample 0/2 | addition | finished, ready | "
                   "reward 0.750 (correct 1, length -0.25, repetition 0) | 2 answer tokens, "
                   "2 segment(s) from it 3,4"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("  prompt: 12+7=\n  answer: 19\n"), std::string::npos) << s;
  EXPECT_NE(s.find("truncated, ready"), std::string::npos) << s;
  // A newline continues indented; a control byte is shown escaped.
  EXPECT_NE(s.find("  answer: line one\n          line\\x01two\n"), std::string::npos) << s;
  EXPECT_NE(s.find("3 segment(s) from it 2,3,4"), std::string::npos) << s;

  auto count = [](const std::string& text) {
    size_t n = 0;
    for (size_t p = 0; (p = text.find("\n  prompt: ", p)) != std::string::npos; ++p) ++n;
    return n;
  };
  EXPECT_EQ(count(s), 4u);
  inspect::AnswerFilter open;
  open.status = "open";
  const std::string o1 =
      capture([&](std::ostream& o) { inspect::answers(dir, open, false, "", o); });
  EXPECT_EQ(count(o1), 2u) << o1;
  EXPECT_EQ(o1.find("finished"), std::string::npos);
  inspect::AnswerFilter ended;
  ended.status = "ended";
  ended.limit = 1;
  const std::string e1 =
      capture([&](std::ostream& o) { inspect::answers(dir, ended, false, "", o); });
  EXPECT_EQ(count(e1), 1u) << e1;
  inspect::AnswerFilter other;
  other.iteration = 3;
  EXPECT_THROW(capture([&](std::ostream& o) { inspect::answers(dir, other, false, "", o); }),
               InputError);
  fs::remove_all(dir);
}

TEST(InspectAnswers, JsonLinesOfOneShard) {
  const std::string dir = fresh("json");
  auto tok = make_byte_tokenizer();
  write_hand_run(dir, *tok, {});
  const std::string shard = RunDir(dir).shard(4, 1);
  const std::string s = capture([&](std::ostream& o) { inspect::answers(shard, {}, true, "", o); });
  std::istringstream in(s);
  std::vector<Json> rows;
  for (std::string l; std::getline(in, l);) rows.push_back(Json::parse(l, "line"));
  ASSERT_EQ(rows.size(), 4u);
  const Json& a = rows[0];
  EXPECT_EQ(a["iteration"].as_int(), 4);
  EXPECT_EQ(a["rank"].as_int(), 1);
  EXPECT_EQ(a["group"].as_string(), "3:1:7");
  EXPECT_EQ(a["status"].as_string(), "finished");
  EXPECT_TRUE(a["ready"].as_bool());
  EXPECT_DOUBLE_EQ(a["reward"].as_number(), 0.75);
  EXPECT_DOUBLE_EQ(a["components"]["correct"].as_number(), 1.0);
  EXPECT_DOUBLE_EQ(a["components"]["length"].as_number(), -0.25);
  EXPECT_EQ(a["segment_iterations"].size(), 2u);
  EXPECT_EQ(a["segment_iterations"].at(1).as_int(), 4);
  EXPECT_EQ(a["prompt"].as_string(), "12+7=");
  EXPECT_EQ(a["answer"].as_string(), "19");
  EXPECT_EQ(a["answer_tokens"].as_int(), 2);
  EXPECT_EQ(rows[2]["answer"].as_string(), "line one\nline\x01two");  // JSON keeps the bytes
  EXPECT_EQ(rows[2]["iteration_started"].as_int(), 2);
  // Invalid UTF-8 becomes U+FFFD, so the line stays valid JSON.
  EXPECT_EQ(inspect::printable("a\xff"
                               "b"),
            "a\xef\xbf\xbd"
            "b");
  fs::remove_all(dir);
}

TEST(InspectAnswers, DecodesWithTheRunsBpeTokenizer) {
  const std::string dir = fresh("bpe");
  // 256 byte tokens, merges "1 2" and "t h", then <|im_end|> as a special.
  BpeSpec spec;
  for (int b = 0; b < 256; ++b) {
    auto printable = [](int x) {
      return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
    };
    int cp = b;
    if (!printable(b)) {
      cp = 256;
      for (int x = 0; x < b; ++x) cp += !printable(x);
    }
    std::string s;
    utf8_append(s, static_cast<uint32_t>(cp));
    spec.tokens.push_back(s);
  }
  spec.merges = {{"1", "2"}, {"t", "h"}};
  spec.tokens.push_back("12");
  spec.tokens.push_back("th");
  spec.tokens.push_back("<|im_end|>");
  spec.types.assign(spec.tokens.size(), 1);
  spec.types.back() = 3;
  spec.eos = static_cast<int32_t>(spec.tokens.size()) - 1;
  auto tok = make_bpe_tokenizer(spec);
  for (const auto& [name, text] : tok->to_hf_files()) io::publish_text(dir + "/" + name, text);
  write_hand_run(dir, *tok, {"tokenizer.kind=bpe", "tokenizer.path=" + dir + "/tokenizer.json"});
  // The shard holds merged ids (256, 257) and the special (258): only this tokenizer reads them.
  const std::string s = capture([&](std::ostream& o) { inspect::answers(dir, {}, false, "", o); });
  EXPECT_NE(s.find("  prompt: 12+7=\n"), std::string::npos) << s;
  EXPECT_NE(s.find("  answer: the 12 the 12 the\n"), std::string::npos) << s;
  auto byte = make_byte_tokenizer();
  EXPECT_NE(byte->decode(tok->encode("12")), "12");  // the byte tokenizer would misread it
  fs::remove_all(dir);
}

TEST(InspectBuffer, StatusCountsLengthsAndAges) {
  const std::string dir = fresh("buffer");
  auto tok = make_byte_tokenizer();
  write_hand_run(dir, *tok, {});
  const std::string s = capture([&](std::ostream& o) { inspect::buffer_report(dir, o); });
  // 4 rows: 2 open (ages 4-2 = 2 and 4-4 = 0), 1 finished, 1 truncated, 2 ready; answer lengths
  // 2, 17, 17, 1 -> p50 17 (nearest rank of 1 2 17 17), max 17; 8 bins of width 3 cover 0..23:
  // 0-2 holds 2 answers, 15-17 two.
  const std::string l = line_of(s, "4 ");
  EXPECT_EQ(words(l.substr(0, l.find('|'))), "4 1 4 2 1 1 0 2") << s;
  EXPECT_NE(l.find("| 0:1 2:1"), std::string::npos) << s;
  EXPECT_NE(s.find("0-2 3-5 6-8 9-11 12-14 15-17 18-20 21-23"), std::string::npos) << s;
  EXPECT_NE(words(l).find("| 17 17 17 | 2 0 0 0 0 2 0 0 |"), std::string::npos) << s;
  fs::remove_all(dir);
}

TEST(InspectCkpt, NormsAndRelativeChangeOfKnownParameters) {
  const std::string dir = fresh("ckpt");
  model::ModelConfig mc;
  mc.vocab = 16, mc.dim = 8, mc.layers = 1, mc.heads = 2, mc.kv_heads = 1, mc.ffn_dim = 16;
  mc.max_seq = 16;
  model::Model m(mc);
  for (int64_t i = 0; i < m.num_params(); ++i) m.params()[i] = 0.5f;
  model::save_checkpoint(dir + "/a.h5", m, nullptr, {7, 3, {}});
  const auto& q = m.tensor("model.layers.0.self_attn.q_proj.weight");
  for (int64_t i = 0; i < q.size; ++i) m.params()[q.offset + i] = 0.55f;  // +10%
  model::save_checkpoint(dir + "/b.h5", m, nullptr, {9, 4, {}});
  const std::string s =
      capture([&](std::ostream& o) { inspect::ckpt_report(dir + "/a.h5", dir + "/b.h5", o); });
  EXPECT_NE(s.find("a.h5: checkpoint/1, step 7, iteration 3"), std::string::npos) << s;
  EXPECT_NE(s.find("b.h5: checkpoint/1, step 9, iteration 4"), std::string::npos) << s;
  // q_proj is [8, 8]: norm 0.5 * 8 = 4, rms 0.5, B's norm 4.4, relative change 0.1.
  EXPECT_EQ(words(line_of(s, "model.layers.0.self_attn.q_proj.weight")),
            "model.layers.0.self_attn.q_proj.weight [8, 8] 4 0.5 0.5 4.4 0.1")
      << s;
  // k_proj [4, 8]: norm 0.5 * sqrt(32), unchanged.
  EXPECT_EQ(words(line_of(s, "model.layers.0.self_attn.k_proj.weight")),
            "model.layers.0.self_attn.k_proj.weight [4, 8] 2.828 0.5 0.5 2.828 0")
      << s;
  // Whole model: ||Δ|| / ||A|| = 0.05 * 8 / (0.5 * sqrt(N)).
  const double want = 0.05 * 8 / (0.5 * std::sqrt(static_cast<double>(m.num_params())));
  EXPECT_NE(line_of(s, "(all)").find(strfmt("%.4g", want)), std::string::npos) << s;
  // A checkpoint of another model config is refused.
  model::ModelConfig other = mc;
  other.ffn_dim = 32;
  model::Model m2(other);
  model::save_checkpoint(dir + "/c.h5", m2, nullptr, {});
  EXPECT_THROW(
      capture([&](std::ostream& o) { inspect::ckpt_report(dir + "/a.h5", dir + "/c.h5", o); }),
      InputError);
  fs::remove_all(dir);
}

TEST(InspectBadFiles, OneLineNamingTheFileAndWhyWithExitCode2) {
  const std::string dir = fresh("bad");
  auto tok = make_byte_tokenizer();
  write_hand_run(dir, *tok, {});
  const std::string shard = RunDir(dir).shard(4, 1);
  // Truncated.
  const std::string cut = dir + "/cut.h5";
  fs::copy_file(shard, cut);
  fs::resize_file(cut, fs::file_size(cut) / 2);
  // Foreign kind: a metrics file given as a shard / as a checkpoint.
  io::append_rows(dir + "/metrics.h5", "metrics/1", "iteration", {{{"iteration", 0.0}}});
  // A newer format version.
  {
    io::AtomicH5 w(dir + "/newer.h5", "buffer/2");
    w.publish();
  }
  struct Case {
    std::string args, want;
  };
  const std::vector<Case> cases = {
      {"answers " + cut + " --config " + dir + "/config.ini", cut},
      {"answers " + dir + "/metrics.h5", "is a metrics file: expected a buffer file"},
      {"ckpt " + shard, "is a buffer file: expected a checkpoint file"},
      {"answers " + dir + "/newer.h5",
       "has format buffer/2: this build reads buffer/1 to buffer/1"},
      {"summary " + dir + "/nothing", "does not exist"},
  };
  for (const auto& c : cases) {
    std::string out, err;
    EXPECT_EQ(run_binary(c.args, out, err), 2) << c.args << "\n" << err;
    EXPECT_EQ(err.rfind("k1rl-inspect: error: ", 0), 0u) << err;
    EXPECT_NE(err.find(c.want), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
  // A truncated metrics.h5 in a run: summary names it.
  fs::resize_file(dir + "/metrics.h5", 200);
  std::string out, err;
  EXPECT_EQ(run_binary("summary " + dir, out, err), 2);
  EXPECT_NE(err.find(dir + "/metrics.h5"), std::string::npos) << err;
  // Usage errors are 64; help exits 0 and documents every option.
  EXPECT_EQ(run_binary("answers " + dir + " --bogus", out, err), 64);
  EXPECT_EQ(run_binary("nonsense", out, err), 64);
  EXPECT_EQ(run_binary("answers --help", out, err), 0);
  for (const char* opt : {"--iteration", "--status", "--limit", "--json", "--config"})
    EXPECT_NE(out.find(opt), std::string::npos) << opt;
  EXPECT_EQ(run_binary("--help", out, err), 0);
  for (const char* cmd : {"summary", "answers", "buffer", "ckpt"})
    EXPECT_NE(out.find(cmd), std::string::npos) << cmd;
  fs::remove_all(dir);
}
