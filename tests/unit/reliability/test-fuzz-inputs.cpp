// A fuzz pass over every input file the suite reads: task JSON Lines, answers for
// `k1rl-reward --score`, configs, checkpoints, buffer shards, sampler.h5, GGUF, safetensors and
// tokenizer.json. A valid file of each kind is mutated with seeded mutations (truncation, flipped
// bytes, 0xff runs that make sizes huge, invalid UTF-8, deep nesting, wrong types, a chunk
// repeated); every mutant must load or fail with a typed k1rl::Error whose message is one line
// (what an app prints), never crash or throw anything else. Deterministic and bounded
// (K1RL_FUZZ_CASES mutants per kind, default 150; 1200 for checkpoints, where case 1132 crashed
// libhdf5 on the 1.6 file format before io wrote the checksummed 1.8 one); runs in the release
// suite and under the asan preset (`cmake --build --preset asan --target test_fuzz_inputs`).
// K1RL_FUZZ_VERBOSE=1 prints each case before it runs, to find the one that crashed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "lib/app/app.h"
#include "lib/buffer/buffer.h"
#include "lib/convert/convert.h"
#include "lib/model/model.h"
#include "lib/reward/reward.h"
#include "lib/rl/rl.h"

using namespace k1rl;
using namespace k1rl::convert;

namespace {
const std::string kDir = "/tmp/k1rl-fuzz-" + std::to_string(getpid());

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// One seeded mutation of `s`; `text` adds the JSON/INI-shaped ones. Returns its name.
std::string mutate(std::string& s, Rng& rng, bool text) {
  auto at = [&](size_t n) { return static_cast<size_t>(rng.below(std::max<size_t>(n, 1))); };
  const int kinds = text ? 9 : 6;
  switch (rng.below(static_cast<uint64_t>(kinds))) {
    case 0:
      s.resize(at(s.size()));
      return "truncate";
    case 1:
      for (int i = 0, n = 1 + static_cast<int>(rng.below(8)); i < n && !s.empty(); ++i)
        s[at(s.size())] ^= static_cast<char>(1 + rng.below(255));
      return "flip bytes";
    case 2: {
      const size_t p = at(s.size());
      for (size_t i = p; i < std::min(s.size(), p + 8); ++i) s[i] = '\xff';
      return "0xff run (huge sizes)";
    }
    case 3:
      s.insert(at(s.size()), text ? "\xc3\x28\xff\xfe\xed\xa0\x80" : "\xff\xff\xff\xff");
      return "invalid UTF-8";
    case 4: {
      const size_t p = at(s.size()), n = std::min<size_t>(1 + at(64), s.size() - p);
      s.insert(p, s.substr(p, n));
      return "chunk repeated";
    }
    case 5:
      s.resize(s.size() + at(64), static_cast<char>(rng.below(256)));
      return "trailing junk";
    case 6: {  // text: deep nesting where a value starts
      const size_t p = s.find(':', at(s.size()));
      const size_t q = p == std::string::npos ? at(s.size()) : p + 1;
      s.insert(q, std::string(100000, '[') + std::string(100000, ']'));
      return "deep nesting";
    }
    case 7: {  // text: a value of the wrong type
      static const char* repl[] = {"[]", "{}",    "null",  "true",
                                   "-1", "1e999", "\"x\"", "9223372036854775808"};
      const size_t p = s.find(':', at(s.size()));
      if (p == std::string::npos) return "wrong type (no value)";
      size_t e = s.find_first_of(",}\n", p + 1);
      if (e == std::string::npos) e = s.size();
      s.replace(p + 1, e - p - 1, repl[rng.below(8)]);
      return "wrong type";
    }
    default: {  // text: a huge number
      const size_t p = at(s.size());
      s.insert(p, "99999999999999999999999999999");
      return "huge number";
    }
  }
}

struct Kind {
  std::string name;
  std::string file;                              // the mutant's name (kDir/<file>)
  bool text;                                     // JSON/INI-shaped mutations too
  std::function<void(const std::string&)> load;  // what the suite does with such a file
};

// Loads `cases` mutants of `valid` with `k.load`; fails on anything but a one-line k1rl::Error.
void fuzz(const Kind& k, const std::string& valid, uint64_t seed, int default_cases = 150) {
  const char* env = std::getenv("K1RL_FUZZ_CASES");
  const int cases = env ? std::atoi(env) : default_cases;
  const bool verbose = std::getenv("K1RL_FUZZ_VERBOSE") != nullptr;
  const std::string path = kDir + "/" + k.file;
  spit(path, valid);
  ASSERT_NO_THROW(k.load(path)) << k.name << ": the unmutated file must load";
  Rng rng(seed, 0xf022);
  int refused = 0;
  for (int c = 0; c < cases; ++c) {
    std::string s = valid;
    std::string how = mutate(s, rng, k.text);
    if (rng.below(3) == 0) how += " + " + mutate(s, rng, k.text);
    if (verbose) std::fprintf(stderr, "fuzz %s case %d: %s\n", k.name.c_str(), c, how.c_str());
    spit(path, s);
    try {
      k.load(path);
    } catch (const Error& e) {
      ++refused;
      const std::string line = e.line();
      EXPECT_EQ(line.find('\n'), std::string::npos)
          << k.name << " case " << c << " (" << how << "): a multi-line error: " << line;
      EXPECT_FALSE(e.what_part().empty()) << k.name << " case " << c;
    } catch (const std::exception& e) {
      ADD_FAILURE() << k.name << " case " << c << " (" << how
                    << "): an untyped exception (an app reports it as a bug): " << e.what();
    }
  }
  std::printf("fuzz %-12s %d mutants, %d refused with a one-line error, %d still loaded\n",
              k.name.c_str(), cases, refused, cases - refused);
}

Config tiny_config(const std::vector<std::string>& extra = {}) {
  ConfigSpec spec;
  declare_all_options(spec);
  std::vector<std::string> a = {"--model.dim=16",     "--model.layers=1",   "--model.heads=2",
                                "--model.kv_heads=1", "--model.ffn_dim=32", "--model.max_seq=32"};
  a.insert(a.end(), extra.begin(), extra.end());
  return Config::parse(spec, "", "test", a);
}

// GPT-2's byte-to-character map (as tests/unit/tokenizer spells it).
std::string byte_char(int b) {
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
  return s;
}

// A minimal GGUF v3 file: a few metadata keys (string, u32, f32, string array) and one F32
// tensor.
std::string tiny_gguf() {
  std::string b;
  auto u32 = [&](uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); };
  auto str = [&](const std::string& s) {
    u64(s.size());
    b += s;
  };
  b += "GGUF";
  u32(3);
  u64(1);  // tensors
  u64(4);  // key/values
  str("general.architecture");
  u32(8);
  str("llama");
  str("llama.block_count");
  u32(4);
  u32(1);
  str("llama.rope.freq_base");
  u32(6);
  float f = 10000.f;
  b.append(reinterpret_cast<const char*>(&f), 4);
  str("tokenizer.ggml.tokens");
  u32(9);
  u32(8);
  u64(3);
  for (const char* t : {"a", "b", "ab"}) str(t);
  str("token_embd.weight");
  u32(2);
  u64(4);
  u64(3);
  u32(0);  // F32
  u64(0);
  while (b.size() % 32) b += '\0';
  for (int i = 0; i < 12; ++i) {
    float x = static_cast<float>(i) * 0.5f;
    b.append(reinterpret_cast<const char*>(&x), 4);
  }
  return b;
}
}  // namespace

class Fuzz : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(kDir); }
  void TearDown() override { std::filesystem::remove_all(kDir); }
};

TEST_F(Fuzz, TaskJsonLines) {
  Rng rng(1);
  std::vector<Task> tasks = {generate_task("addition", 2, rng), generate_task("countdown", 3, rng),
                             generate_task("code", 2, rng), generate_task("linear", 2, rng)};
  save_tasks(kDir + "/valid.jsonl", tasks);
  fuzz({"tasks", "tasks.jsonl", true, [](const std::string& p) { load_tasks(p); }},
       slurp(kDir + "/valid.jsonl"), 1);
}

TEST_F(Fuzz, AnswersForRewardScore) {
  Rng rng(2);
  std::vector<Task> tasks = {generate_task("addition", 2, rng), generate_task("countdown", 3, rng)};
  tasks[0].id = "add-1";
  tasks[1].id = "cd-1";
  RewardOptions opt;
  opt.workers = 1;
  Scorer scorer(opt, tasks);
  std::string valid;
  for (const auto& t : tasks)
    valid += "{\"id\":\"" + t.id + "\",\"text\":\"Answer: " + t.answer +
             "\",\"length\":5,\"group\":\"g\",\"repeated\":false}\n";
  fuzz({"answers", "answers.jsonl", true,
        [&](const std::string& p) { score_file(scorer, p, kDir + "/scores.jsonl", 0); }},
       valid, 2);
}

TEST_F(Fuzz, ConfigIni) {
  ConfigSpec spec;
  declare_all_options(spec);
  const std::string valid = slurp(K1RL_SOURCE_DIR "/inputs/configs/tiny.ini");
  fuzz({"config", "c.ini", true, [&](const std::string& p) { Config::load(spec, p, {}); }}, valid,
       3);
}

TEST_F(Fuzz, Checkpoint) {
  const Config cfg = tiny_config();
  model::Model m(model::ModelConfig::from_config(cfg));
  m.init_params(1);
  optim::AdamW opt(optim::OptimConfig::from_config(cfg), m.num_params(), m.param_ranges());
  model::save_checkpoint(kDir + "/valid.h5", m, &opt, {3, 1, {1, 2, 3, 4}});
  fuzz({"checkpoint", "it_000001.h5", false,
        [&](const std::string& p) {
          model::read_checkpoint_config(p);
          model::load_checkpoint(p, m, &opt);
        }},
       slurp(kDir + "/valid.h5"), 4, 1200);
}

TEST_F(Fuzz, BufferShard) {
  buffer::Shard sh;
  sh.iteration = 2;
  sh.rank = 0;
  sh.component_names = {"correct", "length", "repetition"};
  for (int j = 0; j < 3; ++j) {
    buffer::Trajectory t;
    t.prompt_id = 5;
    t.sample = j;
    t.group_id = buffer::GroupKey{2, 0, 0}.pack();
    t.group_size = 3;
    t.task = "addition";
    t.prompt_len = 3;
    t.tokens = {1, 2, 3, 4, 5};
    t.logprobs = {-0.5f, -1.5f};
    t.segment_iter = {2, 2};
    t.n_segments = 1;
    t.components = {1, 0, 0};
    t.status = buffer::Status::finished;
    t.ready = true;
    sh.rows.push_back(t);
  }
  buffer::write_shard(kDir, sh);
  const std::string valid = slurp(buffer::shard_path(kDir, 2, 0));
  fuzz({"shard", "it_000002.r0000.h5", false, [](const std::string& p) { buffer::read_shard(p); }},
       valid, 5);
}

TEST_F(Fuzz, SamplerState) {
  rl::PromptSampler s({}, std::vector<int>(6, 1), 1);
  s.set_tasks_digest("fnv1a64:0000000000000001");
  s.observe(2, 1.0);
  s.save(kDir + "/valid-sampler.h5", 0);
  s.save(kDir + "/valid-sampler.h5", 1);
  fuzz({"sampler", "sampler.h5", false,
        [](const std::string& p) {
          rl::PromptSampler t({}, std::vector<int>(6, 1), 1);
          t.set_tasks_digest("fnv1a64:0000000000000001");
          t.load(p, 1);
        }},
       slurp(kDir + "/valid-sampler.h5"), 6);
}

TEST_F(Fuzz, Gguf) {
  fuzz({"gguf", "m.gguf", false,
        [](const std::string& p) {
          GgufMeta meta = GgufMeta::read(p);
          uint64_t data = 0;
          for (const auto& t : read_gguf_tensor_infos(meta, &data)) (void)t.numel();
        }},
       tiny_gguf(), 7);
}

TEST_F(Fuzz, Safetensors) {
  Tensor a, b;
  a.name = "model.embed_tokens.weight";
  a.shape = {4, 3};
  a.data.assign(12, 0.25f);
  b.name = "model.norm.weight";
  b.shape = {3};
  b.data = {1, 2, 3};
  write_safetensors(kDir + "/valid.safetensors", {&a, &b});
  fuzz({"safetensors", "m.safetensors", false, [](const std::string& p) { read_safetensors(p); }},
       slurp(kDir + "/valid.safetensors"), 8);
}

TEST_F(Fuzz, TokenizerJson) {
  BpeSpec spec;  // every byte, a few merges, two specials (as tests/unit/tokenizer builds it)
  for (int b = 0; b < 256; ++b) spec.tokens.push_back(byte_char(b));
  spec.merges = {{byte_char(' '), "t"}, {"h", "e"}, {"1", "2"}};
  for (const auto& [x, y] : spec.merges) spec.tokens.push_back(x + y);
  spec.tokens.push_back("<|im_start|>");
  spec.tokens.push_back("<|im_end|>");
  spec.types.assign(spec.tokens.size(), 1);
  spec.types[spec.tokens.size() - 2] = spec.types[spec.tokens.size() - 1] = 3;
  spec.eos = static_cast<int32_t>(spec.tokens.size()) - 1;
  spec.chat.kind = "chatml";
  const auto files = make_bpe_tokenizer(spec)->to_hf_files();
  fuzz({"tokenizer", "tokenizer.json", true,
        [&](const std::string& p) {
          auto tok =
              make_bpe_tokenizer(bpe_spec_from_hf(slurp(p), files.at("tokenizer_config.json"), p));
          tok->encode("12 the héllo", true);
        }},
       files.at("tokenizer.json"), 9);
}
