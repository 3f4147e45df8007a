// k1rl-eval's records and --dump: one record per greedy and sampled answer, each with the prompt
// as the model saw it, the answer text, and the checker's reading of that text; the dump is
// JSON Lines published under its final name only (no temporary left).
#include <gtest/gtest.h>

#include <filesystem>

#include "lib/app/app.h"
#include "lib/eval/eval.h"

using namespace k1rl;

TEST(Eval, DumpHoldsEveryAnswerAsScored) {
  ConfigSpec spec;
  declare_all_options(spec);
  Config cfg =
      Config::parse(spec, "", "test",
                    {"--model.dim=32", "--model.layers=1", "--model.heads=2", "--model.kv_heads=1",
                     "--model.ffn_dim=48", "--model.max_seq=48", "--policy.instructions=on"});
  auto tok = make_byte_tokenizer();
  model::Model m(model::ModelConfig::from_config(cfg));
  m.init_params(3);
  Rng rng(9);
  std::vector<Task> tasks;
  for (int i = 0; i < 3; ++i) tasks.push_back(generate_task("addition", 1, rng));
  for (int i = 0; i < 3; ++i) tasks[static_cast<size_t>(i)].id = "t" + std::to_string(i);
  Scorer scorer(reward_options_from_config(cfg), tasks);
  eval::EvalConfig ec;
  ec.samples = 2;
  ec.max_answer_tokens = 6;
  policy::PromptFormat f = policy::prompt_format(cfg, *tok);
  eval::EvalResult r = eval::evaluate(m, *tok, f, tasks, scorer, ec, 5);
  ASSERT_EQ(r.records.size(), 3u * (1 + 2));

  const std::string dir = testing::TempDir() + "k1rl-eval-dump";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/answers.jsonl";
  eval::write_dump(path, r.records);
  std::vector<Json> rows = read_jsonl(path);
  ASSERT_EQ(rows.size(), r.records.size());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // no temporary

  double greedy_correct = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Json& j = rows[i];
    const int64_t p = j["prompt"].as_int(), sample = j["sample"].as_int();
    ASSERT_GE(p, 0);
    ASSERT_LT(p, 3);
    const Task& t = tasks[static_cast<size_t>(p)];
    EXPECT_EQ(sample, i < 3 ? -1 : static_cast<int64_t>((i - 3) % 2)) << i;
    EXPECT_EQ(j["task_id"].as_string(), t.id);
    // The prompt the model saw: <bos> (a special, kept) and the instructed text.
    EXPECT_EQ(j["prompt_text"].as_string(),
              tok->decode(policy::prompt_tokens(*tok, t, f), /*skip_special=*/false));
    EXPECT_NE(j["prompt_text"].as_string().find(f.instruction(t)), std::string::npos);
    // What the checker made of the text is what the dump says.
    CheckResult c = check_numeric(t, j["answer_text"].as_string());
    EXPECT_EQ(j["reason"].as_string(), c.reason) << j.dump();
    EXPECT_EQ(j["extracted"].as_string(), c.extracted) << j.dump();
    EXPECT_EQ(j["correct"].as_number(), c.score);
    EXPECT_LE(j["tokens"].as_int(), 6);
    const std::string fin = j["finish"].as_string();
    EXPECT_TRUE(fin == "stop" || fin == "length") << fin;
    if (sample < 0) greedy_correct += c.score;
  }
  EXPECT_DOUBLE_EQ(r.greedy_accuracy, greedy_correct / 3.0);
  EXPECT_THROW(eval::write_dump(dir + "/missing/answers.jsonl", r.records), IoError);
}
