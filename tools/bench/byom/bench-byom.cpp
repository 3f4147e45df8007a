// k1rl-bench-byom: greedy generation of lib/model on SmolLM2-135M-Instruct (imported from its
// GGUF by lib/convert) next to transformers' eager PyTorch generate() on the same weights, in the
// same run and interleaved rep by rep (torch_byom.py stays running), so both see the same load:
// prefill rows (one new token: prompt tokens/s) and generation rows at batch 1, 32 and 64 (new
// tokens/s, prefill included, as a caller of generate() sees it), each checking that every row's
// tokens equal transformers'. Then where a step's time goes, per op (GenStats profile), and with
// --profile-shapes the same for the DESIGN.md shapes S and M (random weights, ours only).
// Usage: k1rl-bench-byom [--gguf PATH] [--new N] [--reps R] [--no-torch] [--profile-shapes]
//        [--quick] [--threads N]   (ends with a JSON line)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "lib/convert/convert.h"
#include "lib/json/json.h"
#include "lib/model/model.h"
#include "tools/bench/byom/gen-profile.h"
#include "tools/bench/common/bench.h"

using namespace k1rl;

namespace {

using bench::now;
using Rows = std::vector<std::vector<int32_t>>;

// One generate() call of either program: its wall time, CPU time, every row's new tokens.
struct Call {
  double seconds = 0, cpu_s = 0;
  Rows tokens;
  bench::Usage usage;
  model::GenStats stats;  // ours only (its profile)
};

Call run_ours(model::Generator& gen, const std::vector<int32_t>& prompt, int64_t batch,
              int64_t fresh) {
  model::SamplingParams sp;
  sp.temperature = 0;
  sp.max_answer_tokens = fresh;
  std::vector<model::GenRequest> reqs(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) reqs[b].id = b, reqs[b].prompt = prompt;
  gen.reset_stats();
  Call c;
  const bench::Usage u0 = bench::usage_self();
  const double t0 = now();
  auto res = gen.generate(reqs, sp);
  c.seconds = now() - t0;
  c.usage = bench::usage_self() - u0;
  c.cpu_s = c.usage.user_s + c.usage.sys_s;
  for (auto& r : res) c.tokens.push_back(std::move(r.tokens));
  c.stats = gen.stats();
  return c;
}

Call run_torch(bench::Coprocess& ref, const std::vector<int32_t>& prompt, int64_t batch,
               int64_t fresh) {
  std::string ids;
  for (int32_t t : prompt) ids += (ids.empty() ? "" : ",") + std::to_string(t);
  Call c;
  const std::string line =
      ref.ask(strfmt("%lld %lld %s", (long long)batch, (long long)fresh, ids.c_str()));
  if (line.empty()) return c;
  Json j = Json::parse(line);
  c.seconds = j["seconds"].as_number();
  for (const auto& row : j["tokens"].items()) {
    c.tokens.emplace_back();
    for (const auto& t : row.items()) c.tokens.back().push_back(static_cast<int32_t>(t.as_int()));
  }
  const bench::Phase ph = bench::phase_from_json("torch", line);
  c.usage = ph.usage;
  c.cpu_s = ph.usage.user_s + ph.usage.sys_s;
  return c;
}

// A measured row: the best (fastest) call of each program over the reps, and whether every
// call's every row matched.
struct Row {
  std::string name;
  int64_t batch = 1, fresh = 1;
  bool prefill = false;
  Call ours, torch;
  bench::Phase ours_phase, torch_phase;  // all reps
  bool torch_ran = false, same = true;
};

void keep_best(Call& best, Call&& c) {
  if (best.tokens.empty() || c.seconds < best.seconds) best = std::move(c);
}

void add_phase(bench::Phase& ph, const Call& c) {
  ph.wall_s += c.seconds;
  ph.usage += c.usage;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Driver d("byom", "greedy generation of SmolLM2-135M-Instruct next to transformers");
  std::string gguf = std::string(K1RL_BYOM_ROOT) + "/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  int64_t fresh = 32;
  int reps = 3;
  bool no_torch = false, shapes = false;
  d.options().add_options()("gguf", bench::po::value(&gguf)->default_value(gguf), "the model")(
      "new", bench::po::value(&fresh)->default_value(fresh),
      "new tokens per sequence (--quick: 4)")(
      "reps", bench::po::value(&reps)->default_value(reps),
      "calls per row and program, interleaved; the fastest counts (--quick: 1)")(
      "no-torch", bench::po::bool_switch(&no_torch), "skip the transformers reference")(
      "profile-shapes", bench::po::bool_switch(&shapes),
      "also the per-op profile of the DESIGN.md shapes S and M (ours, random weights)");
  if (!d.parse(argc, argv)) return d.exit_code();
  if (d.quick() && !d.given("new")) fresh = 4;
  if (d.quick() && !d.given("reps")) reps = 1;
  fresh = std::max<int64_t>(fresh, 2);
  reps = std::max(reps, 1);
  try {
    convert::ImportedModel m = convert::import_gguf(gguf);
    m.spec.max_seq = 512;
    model::Model net(model::ModelConfig::from_map(m.spec.to_map(), gguf));
    for (const auto& t : net.tensors())
      std::memcpy(net.params() + t.offset, m.find(t.name)->data.data(), t.size * sizeof(float));
    auto prompt = m.tokenizer->encode_chat(
        {{"user", "Write a short story about a robot learning to paint."}});
    const int64_t P = static_cast<int64_t>(prompt.size());
    d.print_header(
        strfmt("SmolLM2-135M-Instruct, prompt %lld tokens, %lld new tokens, greedy, "
               "best of %d interleaved calls",
               (long long)P, (long long)fresh, reps));

    std::unique_ptr<bench::Coprocess> ref;
    if (!no_torch) {
      ref = std::make_unique<bench::Coprocess>(std::vector<std::string>{
          std::string(K1RL_BYOM_ROOT) + "/.cache/venv/bin/python", K1RL_BYOM_TORCH, gguf});
      const std::string hello = ref->read_line();
      if (hello.find("\"ready\"") == std::string::npos) {
        std::fprintf(stderr, "warning: the transformers reference did not start\n");
        ref.reset();
      } else {
        std::printf("reference: %s\n", hello.c_str());
      }
    }
    const std::vector<int64_t> batches = {1, 32, 64};
    std::map<int64_t, std::unique_ptr<model::Generator>> gens;
    for (int64_t b : batches) gens[b] = std::make_unique<model::Generator>(net, b, P + fresh);

    // Warm-up, untimed: our weights are packed once (until they change), each program's first
    // call allocates.
    {
      const double t0 = now();
      gens[1]->set_profile(true);
      run_ours(*gens[1], prompt, 1, 2);
      std::printf(
          "k1rl: weights packed once for decoding in %.2f s (again only after they change)\n",
          now() - t0);
      gens[1]->set_profile(false);
      if (ref) run_torch(*ref, prompt, 1, 2);
    }

    std::vector<Row> rows;
    for (int64_t b : {1, 32}) rows.push_back({strfmt("prefill b%lld", (long long)b), b, 1, true});
    for (int64_t b : batches)
      rows.push_back({strfmt("generate b%lld", (long long)b), b, fresh, false});
    for (Row& r : rows) {
      model::Generator& gen = *gens[r.batch];
      gen.set_profile(true);
      for (int rep = 0; rep < reps; ++rep) {
        Call c = run_ours(gen, prompt, r.batch, r.fresh);
        add_phase(r.ours_phase, c);
        Call t;
        if (ref) t = run_torch(*ref, prompt, r.batch, r.fresh);
        if (!t.tokens.empty()) {
          r.torch_ran = true;
          r.same = r.same && t.tokens == c.tokens;
          add_phase(r.torch_phase, t);
          keep_best(r.torch, std::move(t));
        } else {
          r.same = false;
        }
        if (static_cast<int64_t>(c.tokens.size()) != r.batch) r.same = false;
        for (const auto& toks : c.tokens)
          if (static_cast<int64_t>(toks.size()) != r.fresh) r.same = false;
        keep_best(r.ours, std::move(c));
      }
      gen.set_profile(false);
      r.ours_phase.name = "k1rl " + r.name;
      d.record(r.ours_phase);
      if (r.torch_ran) {
        r.torch_phase.name = "torch " + r.name;
        d.record(r.torch_phase);
      }
    }

    // Tokens per second: prompt tokens for prefill rows, new tokens for generation rows.
    auto tokens = [&](const Row& r) { return double(r.batch * (r.prefill ? P : r.fresh)); };
    std::printf("\n%-12s %11s %11s %7s %13s %13s %7s %s\n", "row", "k1rl tok/s", "torch tok/s",
                "ratio", "k1rl cpu ms", "torch cpu ms", "cpu x", "same tokens");
    std::map<std::string, double> ratio, cpu_ratio, ours_rate, torch_rate;
    bool same_all = true;
    for (const Row& r : rows) {
      const double n = tokens(r);
      ours_rate[r.name] = n / r.ours.seconds;
      torch_rate[r.name] = r.torch_ran ? n / r.torch.seconds : 0;
      ratio[r.name] = bench::ratio(ours_rate[r.name], torch_rate[r.name]);
      const double oc = 1e3 * r.ours.cpu_s / n, tc = r.torch_ran ? 1e3 * r.torch.cpu_s / n : 0;
      cpu_ratio[r.name] = bench::ratio(tc, oc);
      same_all = same_all && r.torch_ran && r.same;
      std::printf("%-12s %11.1f %11.1f %7.2f %13.2f %13.2f %7.2f %s\n", r.name.c_str(),
                  ours_rate[r.name], torch_rate[r.name], ratio[r.name], oc, tc, cpu_ratio[r.name],
                  !r.torch_ran ? "-"
                  : r.same     ? "yes (every row)"
                               : "NO");
    }
    // Decode alone: a generation row less the prefill row of the same batch, both programs.
    std::map<int64_t, double> decode_ratio;
    for (int64_t b : {1, 32}) {
      const Row *g = nullptr, *p = nullptr;
      for (const Row& r : rows)
        if (r.batch == b) (r.prefill ? p : g) = &r;
      const double n = double(b * (fresh - 1));
      const double o = n / std::max(1e-9, g->ours.seconds - p->ours.seconds);
      const double t = g->torch_ran && p->torch_ran
                           ? n / std::max(1e-9, g->torch.seconds - p->torch.seconds)
                           : 0;
      decode_ratio[b] = bench::ratio(o, t);
      std::printf(
          "%-12s %11.1f %11.1f %7.2f   (generate less prefill, new tokens after the first)\n",
          strfmt("decode b%lld", (long long)b).c_str(), o, t, decode_ratio[b]);
    }
    std::printf(
        "(ratio = k1rl/torch tokens per second; cpu ms = CPU milliseconds per token; "
        "cpu x = torch/k1rl CPU time)\n");

    std::vector<bench::ProfileColumn> cols;
    for (const Row& r : rows)
      if (!r.prefill) cols.push_back({r.name, r.ours.stats.decode});
    for (const Row& r : rows)
      if (r.prefill && r.batch == 32) cols.push_back({r.name, r.ours.stats.prefill});
    bench::print_profile("SmolLM2-135M-Instruct", cols);
    if (shapes)
      for (const char* s : {"S", "M"}) bench::profile_shape(s, P, fresh, batches);

    d.json()
        .str("bench", "byom")
        .integer("prompt_tokens", P)
        .integer("new_tokens", fresh)
        .num("k1rl_tok_s_b1", ours_rate["generate b1"], 2)
        .num("k1rl_tok_s_b32", ours_rate["generate b32"], 2)
        .num("k1rl_tok_s_b64", ours_rate["generate b64"], 2)
        .num("torch_tok_s_b1", torch_rate["generate b1"], 2)
        .num("torch_tok_s_b32", torch_rate["generate b32"], 2)
        .num("torch_tok_s_b64", torch_rate["generate b64"], 2)
        .num("gen_ratio_b1", ratio["generate b1"], 3)
        .num("gen_ratio_b32", ratio["generate b32"], 3)
        .num("gen_ratio_b64", ratio["generate b64"], 3)
        .num("gen_cpu_ratio_b1", cpu_ratio["generate b1"], 3)
        .num("gen_cpu_ratio_b32", cpu_ratio["generate b32"], 3)
        .num("gen_cpu_ratio_b64", cpu_ratio["generate b64"], 3)
        .num("k1rl_prefill_tok_s_b1", ours_rate["prefill b1"], 2)
        .num("k1rl_prefill_tok_s_b32", ours_rate["prefill b32"], 2)
        .num("torch_prefill_tok_s_b1", torch_rate["prefill b1"], 2)
        .num("torch_prefill_tok_s_b32", torch_rate["prefill b32"], 2)
        .num("prefill_ratio_b1", ratio["prefill b1"], 3)
        .num("prefill_ratio_b32", ratio["prefill b32"], 3)
        .num("decode_ratio_b1", decode_ratio[1], 3)
        .num("decode_ratio_b32", decode_ratio[32], 3)
        .boolean("same_tokens", same_all);
    d.finish();
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-byom: error: %s\n", e.line().c_str());
    return 2;
  }
  return 0;
}
