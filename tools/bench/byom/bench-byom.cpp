// k1rl-bench-byom: greedy generation throughput of lib/model on SmolLM2-135M-Instruct (imported
// from its GGUF by lib/convert) at batch 1 and 32, next to transformers' eager PyTorch generate()
// on the same weights in the same run; checks that both produce the same tokens (batch 1, first
// row), and each program's page faults and user/system CPU time per batch size.
// Usage: k1rl-bench-byom [--gguf PATH] [--new N] [--no-torch] [--quick] [--threads N]
// (ends with a JSON line)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "lib/convert/convert.h"
#include "lib/model/model.h"
#include "tools/bench/common/bench.h"

using namespace k1rl;

namespace {

using bench::now;

struct GenRun {
  double tokens_per_s = 0;
  std::vector<int32_t> first;  // the first sequence's tokens
  bench::Phase phase;
};

GenRun ours(const model::Model& net, const std::vector<int32_t>& prompt, int64_t batch,
            int64_t fresh) {
  GenRun out;
  model::SamplingParams sp;
  sp.temperature = 0;
  sp.max_answer_tokens = fresh;
  std::vector<model::GenRequest> reqs(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) reqs[b].id = b, reqs[b].prompt = prompt;
  model::Generator gen(net, batch, static_cast<int64_t>(prompt.size()) + fresh);
  bench::Meter meter;
  for (int rep = 0; rep < (batch == 1 ? 2 : 1); ++rep) {
    double t0 = now();
    auto res = gen.generate(reqs, sp);
    double dt = now() - t0;
    int64_t n = 0;
    for (const auto& r : res) n += static_cast<int64_t>(r.tokens.size());
    out.tokens_per_s = std::max(out.tokens_per_s, n / dt);
    out.first = res[0].tokens;
  }
  out.phase = meter.stop(strfmt("k1rl generate b%lld", (long long)batch));
  return out;
}

// Runs torch_byom.py once for all batch sizes; returns batch -> run.
std::map<int64_t, GenRun> torch_runs(const std::string& gguf, const std::vector<int32_t>& prompt,
                                     int64_t fresh, const std::vector<int64_t>& batches) {
  std::string ids;
  for (int32_t t : prompt) ids += (ids.empty() ? "" : ",") + std::to_string(t);
  std::string cmd = std::string(K1RL_BYOM_ROOT) + "/.cache/venv/bin/python " + K1RL_BYOM_TORCH +
                    " " + gguf + " " + ids + " " + std::to_string(fresh);
  for (int64_t b : batches) cmd += " " + std::to_string(b);
  std::map<int64_t, GenRun> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char line[1 << 16];
  while (std::fgets(line, sizeof line, p)) {
    Json j = Json::parse(line);
    GenRun r;
    r.tokens_per_s = j["tokens_per_s"].as_number();
    for (const auto& t : j["tokens"].items()) r.first.push_back(static_cast<int32_t>(t.as_int()));
    r.phase = bench::phase_from_json(strfmt("torch generate b%lld", (long long)j["batch"].as_int()),
                                     line);
    out[j["batch"].as_int()] = r;
  }
  if (pclose(p) != 0)
    std::fprintf(stderr, "warning: the PyTorch reference failed: %s\n", cmd.c_str());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Driver d("byom", "greedy generation of SmolLM2-135M-Instruct next to transformers");
  std::string gguf = std::string(K1RL_BYOM_ROOT) + "/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  int64_t fresh = 32;
  bool no_torch = false;
  d.options().add_options()("gguf", bench::po::value(&gguf)->default_value(gguf), "the model")(
      "new", bench::po::value(&fresh)->default_value(fresh),
      "new tokens per sequence (--quick: 4)")("no-torch", bench::po::bool_switch(&no_torch),
                                              "skip the transformers reference");
  if (!d.parse(argc, argv)) return d.exit_code();
  if (d.quick() && !d.given("new")) fresh = 4;
  const bool torch = !no_torch;
  try {
    convert::ImportedModel m = convert::import_gguf(gguf);
    m.spec.max_seq = 512;
    model::Model net(model::ModelConfig::from_map(m.spec.to_map(), gguf));
    for (const auto& t : net.tensors())
      std::memcpy(net.params() + t.offset, m.find(t.name)->data.data(), t.size * sizeof(float));
    auto prompt = m.tokenizer->encode_chat(
        {{"user", "Write a short story about a robot learning to paint."}});
    d.print_header(strfmt("SmolLM2-135M-Instruct, prompt %zu tokens, %lld new tokens, greedy",
                          prompt.size(), (long long)fresh));
    const std::vector<int64_t> batches = {1, 32};
    std::map<int64_t, GenRun> mine;
    for (int64_t b : batches) mine[b] = ours(net, prompt, b, fresh), d.record(mine[b].phase);
    std::map<int64_t, GenRun> ref;
    if (torch) ref = torch_runs(gguf, prompt, fresh, batches);
    for (auto& [b, r] : ref) d.record(r.phase);
    std::printf("%-6s %14s %14s %8s %s\n", "batch", "k1rl tok/s", "torch tok/s", "ratio",
                "same tokens");
    double ratio[2] = {0, 0};
    for (size_t k = 0; k < batches.size(); ++k) {
      int64_t b = batches[k];
      double t = ref.count(b) ? ref[b].tokens_per_s : 0;
      ratio[k] = bench::ratio(mine[b].tokens_per_s, t);
      const char* same = !ref.count(b) ? "-" : ref[b].first == mine[b].first ? "yes" : "NO";
      std::printf("%-6lld %14.1f %14.1f %8.2f %s\n", (long long)b, mine[b].tokens_per_s, t,
                  ratio[k], same);
    }
    d.json()
        .str("bench", "byom")
        .num("k1rl_tok_s_b1", mine[1].tokens_per_s, 2)
        .num("k1rl_tok_s_b32", mine[32].tokens_per_s, 2)
        .num("torch_tok_s_b1", ref.count(1) ? ref[1].tokens_per_s : 0, 2)
        .num("torch_tok_s_b32", ref.count(32) ? ref[32].tokens_per_s : 0, 2)
        .num("gen_ratio_b1", ratio[0], 3)
        .num("gen_ratio_b32", ratio[1], 3);
    d.finish();
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-byom: error: %s\n", e.line().c_str());
    return 2;
  }
  return 0;
}
