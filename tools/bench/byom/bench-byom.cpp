// k1rl-bench-byom: greedy generation throughput of lib/model on SmolLM2-135M-Instruct (imported
// from its GGUF by lib/convert) at batch 1 and 32, next to transformers' eager PyTorch generate()
// on the same weights in the same run; checks that both produce the same tokens (batch 1, first
// row). Usage: k1rl-bench-byom [--gguf PATH] [--new N] [--no-torch]      (ends with a JSON line)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "lib/convert/convert.h"
#include "lib/model/model.h"

using namespace k1rl;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Both programs run with 2 threads; re-executes itself once so OpenMP/OpenBLAS see the setting.
void apply_environment(char** argv) {
  if (std::getenv("K1RL_BENCH_ENV")) return;
  setenv("K1RL_BENCH_ENV", "1", 1);
  setenv("OMP_NUM_THREADS", "2", 1);
  setenv("OPENBLAS_NUM_THREADS", "2", 1);
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  std::perror("k1rl-bench-byom: re-exec failed; running in the current environment");
}

struct GenRun {
  double tokens_per_s = 0;
  std::vector<int32_t> first;  // the first sequence's tokens
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
  for (int rep = 0; rep < (batch == 1 ? 2 : 1); ++rep) {
    double t0 = now();
    auto res = gen.generate(reqs, sp);
    double dt = now() - t0;
    int64_t n = 0;
    for (const auto& r : res) n += static_cast<int64_t>(r.tokens.size());
    out.tokens_per_s = std::max(out.tokens_per_s, n / dt);
    out.first = res[0].tokens;
  }
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
  setenv("TQDM_DISABLE", "1", 1);
  setenv("TRANSFORMERS_VERBOSITY", "error", 1);
  std::map<int64_t, GenRun> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char line[1 << 16];
  while (std::fgets(line, sizeof line, p)) {
    Json j = Json::parse(line);
    GenRun r;
    r.tokens_per_s = j["tokens_per_s"].as_number();
    for (const auto& t : j["tokens"].items()) r.first.push_back(static_cast<int32_t>(t.as_int()));
    out[j["batch"].as_int()] = r;
  }
  if (pclose(p) != 0)
    std::fprintf(stderr, "warning: the PyTorch reference failed: %s\n", cmd.c_str());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  apply_environment(argv);
  std::string gguf = std::string(K1RL_BYOM_ROOT) + "/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  int64_t fresh = 32;
  bool torch = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--gguf" && i + 1 < argc)
      gguf = argv[++i];
    else if (a == "--new" && i + 1 < argc)
      fresh = std::atoll(argv[++i]);
    else if (a == "--no-torch")
      torch = false;
    else {
      std::fprintf(stderr, "usage: k1rl-bench-byom [--gguf PATH] [--new N] [--no-torch]\n");
      return 64;
    }
  }
  try {
    convert::ImportedModel m = convert::import_gguf(gguf);
    m.spec.max_seq = 512;
    model::Model net(model::ModelConfig::from_map(m.spec.to_map(), gguf));
    for (const auto& t : net.tensors())
      std::memcpy(net.params() + t.offset, m.find(t.name)->data.data(), t.size * sizeof(float));
    auto prompt = m.tokenizer->encode_chat(
        {{"user", "Write a short story about a robot learning to paint."}});
    std::printf(
        "k1rl-bench-byom: SmolLM2-135M-Instruct, isa %s, %d threads, prompt %zu tokens, %lld new "
        "tokens, greedy\n",
        ops::isa_name(ops::isa()), ops::num_threads(), prompt.size(), (long long)fresh);
    const std::vector<int64_t> batches = {1, 32};
    std::map<int64_t, GenRun> mine;
    for (int64_t b : batches) mine[b] = ours(net, prompt, b, fresh);
    std::map<int64_t, GenRun> ref;
    if (torch) ref = torch_runs(gguf, prompt, fresh, batches);
    std::printf("%-6s %14s %14s %8s %s\n", "batch", "k1rl tok/s", "torch tok/s", "ratio",
                "same tokens");
    double ratio[2] = {0, 0};
    for (size_t k = 0; k < batches.size(); ++k) {
      int64_t b = batches[k];
      double t = ref.count(b) ? ref[b].tokens_per_s : 0;
      ratio[k] = t > 0 ? mine[b].tokens_per_s / t : 0;
      const char* same = !ref.count(b) ? "-" : ref[b].first == mine[b].first ? "yes" : "NO";
      std::printf("%-6lld %14.1f %14.1f %8.2f %s\n", (long long)b, mine[b].tokens_per_s, t,
                  ratio[k], same);
    }
    std::printf(
        "{\"bench\": \"byom\", \"k1rl_tok_s_b1\": %.2f, \"k1rl_tok_s_b32\": %.2f, "
        "\"torch_tok_s_b1\": %.2f, \"torch_tok_s_b32\": %.2f, \"gen_ratio_b1\": %.3f, "
        "\"gen_ratio_b32\": %.3f}\n",
        mine[1].tokens_per_s, mine[32].tokens_per_s, ref.count(1) ? ref[1].tokens_per_s : 0,
        ref.count(32) ? ref[32].tokens_per_s : 0, ratio[0], ratio[1]);
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-byom: error: %s\n", e.line().c_str());
    return 2;
  }
  return 0;
}
