// k1rl-bench-kvcache: the KV-cache element types side by side (docs/engine.md, "KV-cache
// formats"). For a checkpoint with a tokenizer (a run's ckpt/*.h5, or k1rl-convert's output):
// 16 answers sampled at temperature 1 with each type from the same seeds, and the difference
// between the behaviour log-prob the generator returned and the log-prob the training forward
// computes for the same token (the k1.5 log-ratio at θ = θ_i), per token and summed per answer.
// Then the time of one decode step (64 sequences, 144 cached positions, shape S of DESIGN.md)
// for each type, the types interleaved step by step so that the host's noise hits all alike.
// Each part's page faults and CPU time are in the resource table; the JSON line has the figures.
// Usage: k1rl-bench-kvcache --checkpoint PATH [--new N] [--steps N] [--quick] [--threads N]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "lib/model/model.h"
#include "lib/policy/policy.h"
#include "lib/tokenizer/tokenizer.h"
#include "tools/bench/common/bench.h"
#include "tools/bench/shapes.h"

using namespace k1rl;

namespace {

constexpr model::KvType kTypes[] = {model::KvType::f32, model::KvType::bf24, model::KvType::f16};

void logprob_errors(const std::string& path, int64_t fresh, bench::JsonLine& json) {
  model::Model m(model::read_checkpoint_config(path));
  model::load_checkpoint(path, m, nullptr);
  auto tok = load_tokenizer(path);
  policy::PromptFormat fmt;  // the questions are the instructions themselves
  if (tok->chat_template().kind == "chatml") fmt.style = policy::PromptStyle::chat;
  const char* questions[] = {"What is 17 + 25?",
                             "Write a haiku about the sea.",
                             "Explain why the sky is blue in two sentences.",
                             "List three prime numbers greater than 50.",
                             "12+7=",
                             "Write a Python function that reverses a string.",
                             "Compute 12 * 13 step by step.",
                             "Give a synonym for 'happy' and use it in a sentence."};
  std::vector<model::GenRequest> reqs;
  for (const char* q : questions)
    for (int s = 0; s < 2; ++s) {
      model::GenRequest r;
      r.id = static_cast<int64_t>(reqs.size());
      r.seed = 77 + static_cast<uint64_t>(r.id);
      r.prompt = policy::prompt_tokens(*tok, q, fmt);
      reqs.push_back(r);
    }
  model::SamplingParams sp;
  sp.max_answer_tokens = fresh;
  sp.stop_tokens = tok->stop_ids();
  std::printf("behaviour log-prob - training log-prob, %s, %zu answers of up to %lld tokens\n",
              path.c_str(), reqs.size(), (long long)fresh);
  std::printf("%-6s %7s %12s %12s %14s %14s\n", "cache", "tokens", "token mean", "token max",
              "answer mean", "answer max");
  for (model::KvType kv : kTypes) {
    model::Generator g(m, static_cast<int64_t>(reqs.size()), -1, kv);
    const auto res = g.generate(reqs, sp);
    model::Batch b;
    b.cu.push_back(0);
    for (size_t i = 0; i < res.size(); ++i) {
      for (int32_t t : reqs[i].prompt) b.tokens.push_back(t), b.mask.push_back(0);
      for (int32_t t : res[i].tokens) b.tokens.push_back(t), b.mask.push_back(1);
      b.cu.push_back(static_cast<int32_t>(b.tokens.size()));
    }
    const model::TokenOutputs& out = m.forward(b);
    double tok_sum = 0, tok_max = 0, ans_sum = 0, ans_max = 0;
    size_t n = 0;
    for (size_t i = 0; i < res.size(); ++i) {
      const size_t start = static_cast<size_t>(b.cu[i]) + reqs[i].prompt.size();
      double sum = 0;
      for (size_t j = 0; j < res[i].tokens.size(); ++j, ++n) {
        const double d = static_cast<double>(out.logprob[start + j]) - res[i].logprobs[j];
        tok_sum += std::fabs(d), tok_max = std::max(tok_max, std::fabs(d)), sum += d;
      }
      ans_sum += std::fabs(sum), ans_max = std::max(ans_max, std::fabs(sum));
    }
    std::printf("%-6s %7zu %12.2e %12.2e %14.2e %14.2e\n", model::kv_type_name(kv), n,
                n ? tok_sum / double(n) : 0.0, tok_max, ans_sum / double(res.size()), ans_max);
    const std::string k = model::kv_type_name(kv);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3e", n ? tok_sum / double(n) : 0.0);
    json.raw("lp_err_token_mean_" + k, buf);
    std::snprintf(buf, sizeof buf, "%.3e", ans_max);
    json.raw("lp_err_answer_max_" + k, buf);
  }
}

void step_times(int steps, bench::JsonLine& json) {
  const model::ModelConfig c = bench::shape("S").cfg;
  model::Model m(c);
  m.init_params(1);
  const int64_t B = 64, L = 144;
  std::vector<int32_t> tokens(B * L), cu(B + 1), slots(B), start(B, 0);
  Rng rng(3);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.below(c.vocab));
  for (int64_t b = 0; b <= B; ++b) cu[b] = static_cast<int32_t>(b * L);
  for (int64_t b = 0; b < B; ++b) slots[b] = static_cast<int32_t>(b);
  std::vector<float> logits(B * L * c.vocab);
  std::map<model::KvType, model::KvCache> caches;
  for (model::KvType kv : kTypes) {
    model::KvCache& kc = caches.try_emplace(kv, c, B, c.max_seq, kv).first->second;
    kc.pack_weights(m);
    m.forward_cached(tokens.data(), cu.data(), B, slots.data(), start.data(), kc, logits.data());
  }
  std::vector<int32_t> next(B), one(B + 1), pos(B, static_cast<int32_t>(L));
  for (auto& t : next) t = static_cast<int32_t>(rng.below(c.vocab));
  for (int64_t b = 0; b <= B; ++b) one[b] = static_cast<int32_t>(b);
  std::map<model::KvType, std::vector<double>> us;
  for (int s = 0; s < steps; ++s)
    for (model::KvType kv : kTypes) {  // the same position again: the step's work is the same
      const double t0 = bench::now();
      m.forward_cached(next.data(), one.data(), B, slots.data(), pos.data(), caches.at(kv),
                       logits.data());
      us[kv].push_back(1e6 * (bench::now() - t0));
    }
  std::printf(
      "\ndecode step, shape S, batch 64, 144 cached positions, %d steps each, interleaved\n",
      steps);
  double base = 0;
  for (model::KvType kv : kTypes) {
    auto& v = us[kv];
    std::sort(v.begin(), v.end());
    const double med = v[v.size() / 2];
    if (kv == model::KvType::f32) base = med;
    std::printf("%-6s median %8.0f us   %.3fx of f32\n", model::kv_type_name(kv), med, med / base);
    json.num(std::string("step_us_") + model::kv_type_name(kv), med, 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Driver d("kvcache", "log-prob error and decode-step time of each KV-cache type");
  std::string path;
  int64_t fresh = 160;
  int steps = 200;
  d.options().add_options()(
      "checkpoint", bench::po::value(&path),
      "a checkpoint with its tokenizer (run/ckpt/latest, k1rl-convert's output)")(
      "new", bench::po::value(&fresh)->default_value(160), "answer tokens (--quick: 8)")(
      "steps", bench::po::value(&steps)->default_value(200), "decode steps per type (--quick: 5)");
  if (!d.parse(argc, argv)) return d.exit_code();
  if (d.quick() && !d.given("new")) fresh = 8;
  if (d.quick() && !d.given("steps")) steps = 5;
  if (path.empty() || fresh < 1 || steps < 1) {
    std::fprintf(stderr, "k1rl-bench-kvcache: error: give --checkpoint PATH (see --help)\n");
    return 64;
  }
  try {
    d.print_header();
    bench::Meter m1;
    logprob_errors(path, fresh, d.json());
    d.record(m1.stop("log-prob errors (generate + forward)"));
    bench::Meter m2;
    step_times(steps, d.json());
    d.record(m2.stop("decode steps"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "k1rl-bench-kvcache: %s\n", e.what());
    return 1;
  }
  d.finish();
  return 0;
}
