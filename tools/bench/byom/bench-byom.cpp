// k1rl-bench-byom: greedy generation of lib/model on SmolLM2-135M-Instruct (imported from its
// GGUF by lib/convert) next to transformers' eager PyTorch generate() on the same weights, in the
// same run and interleaved rep by rep (torch_byom.py stays running), so both see the same load:
// prefill rows (one new token: prompt tokens/s) and generation rows at batch 1, 32 and 64 (new
// tokens/s, prefill included, as a caller of generate() sees it), each checking that every row's
// tokens equal transformers'. Then where a step's time goes, per op (GenStats profile), and with
// --profile-shapes the same for the DESIGN.md shapes S and M (random weights, ours only). Last,
// the training row (train-row.h): forward, backward and AdamW on one packed batch, with GFLOP/s
// and the fraction of the same run's sgemm peak.
// Usage: k1rl-bench-byom [--gguf PATH] [--new N] [--reps R] [--train-batch B] [--train-seq T]
//        [--train-steps S] [--recompute] [--no-torch] [--profile-shapes] [--quick] [--threads N]
//        (ends with a JSON line)
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "lib/convert/convert.h"
#include "lib/json/json.h"
#include "lib/model/model.h"
#include "tools/bench/byom/gen-profile.h"
#include "tools/bench/byom/rl-row.h"
#include "tools/bench/byom/train-row.h"
#include "tools/bench/common/bench.h"
#include "tools/bench/shapes.h"

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
  int reps = 3, train_steps = 3, rl_iterations = 3;
  int64_t train_batch = 16, train_seq = 128;
  bool no_torch = false, shapes = false, no_bf16 = false, recompute = false;
  std::string only;
  d.options().add_options()("gguf", bench::po::value(&gguf)->default_value(gguf), "the model")(
      "new", bench::po::value(&fresh)->default_value(fresh),
      "new tokens per sequence (--quick: 4)")(
      "reps", bench::po::value(&reps)->default_value(reps),
      "calls per row and program, interleaved; the fastest counts (--quick: 1)")(
      "train-batch", bench::po::value(&train_batch)->default_value(train_batch),
      "sequences in the training row's packed batch, 0 = no training row (--quick: 2)")(
      "train-seq", bench::po::value(&train_seq)->default_value(train_seq),
      "tokens per sequence of the training row (--quick: 32)")(
      "train-steps", bench::po::value(&train_steps)->default_value(train_steps),
      "timed training steps of each program after one warm-up; the fastest counts (--quick: 1)")(
      "rl-iterations", bench::po::value(&rl_iterations)->default_value(rl_iterations),
      "RL iterations of k1rl-train --local on inputs/configs/smollm2-135m.ini for the memory "
      "row, 0 = none (--quick: 2 small ones)")(
      "only", bench::po::value(&only),
      "gen|train|rl: only the generation rows, the training row or the RL memory row")(
      "no-torch", bench::po::bool_switch(&no_torch), "skip the transformers reference")(
      "no-bf16", bench::po::bool_switch(&no_bf16),
      "skip the training row's bf16 twin (ours under engine.precision=bf16 against torch "
      "autocast bf16; run where the CPU has AMX-BF16 or AVX512-BF16)")(
      "recompute", bench::po::bool_switch(&recompute),
      "also the fp32 training row with recomputation (train.recompute, as "
      "inputs/configs/smollm2-135m.ini sets it): keys with _recompute")(
      "profile-shapes", bench::po::bool_switch(&shapes),
      "also the per-op profile of the DESIGN.md shapes S and M (ours, random weights)");
  if (!d.parse(argc, argv)) return d.exit_code();
  if (d.quick() && !d.given("new")) fresh = 4;
  if (d.quick() && !d.given("reps")) reps = 1;
  if (d.quick() && !d.given("train-batch")) train_batch = 2;
  if (d.quick() && !d.given("train-seq")) train_seq = 32;
  if (d.quick() && !d.given("train-steps")) train_steps = 1;
  train_seq = std::clamp<int64_t>(train_seq, 2, 512);
  train_steps = std::max(train_steps, 1);
  if (!only.empty() && only != "gen" && only != "train" && only != "rl") {
    std::fprintf(stderr, "k1rl-bench-byom: error: --only %s: use gen, train or rl\n", only.c_str());
    return 64;
  }
  const bool gen_rows = only.empty() || only == "gen";
  if (!only.empty() && only != "train") train_batch = 0;
  if (!only.empty() && only != "rl") rl_iterations = 0;
  if (d.quick() && !d.given("rl-iterations")) rl_iterations = 2;
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
    if (!no_torch && (gen_rows || train_batch > 0)) {
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
    const std::vector<int64_t> batches =
        gen_rows ? std::vector<int64_t>{1, 32, 64} : std::vector<int64_t>{};
    std::map<int64_t, std::unique_ptr<model::Generator>> gens;
    for (int64_t b : batches) gens[b] = std::make_unique<model::Generator>(net, b, P + fresh);

    // Warm-up, untimed: our weights are packed once (until they change), each program's first
    // call allocates.
    if (gen_rows) {
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
    auto row = [](std::string name, int64_t b, int64_t n, bool prefill) {
      Row r;
      r.name = std::move(name), r.batch = b, r.fresh = n, r.prefill = prefill;
      return r;
    };
    for (int64_t b : batches)
      if (b <= 32) rows.push_back(row(strfmt("prefill b%lld", (long long)b), b, 1, true));
    for (int64_t b : batches)
      rows.push_back(row(strfmt("generate b%lld", (long long)b), b, fresh, false));
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
    if (gen_rows)
      std::printf("\n%-12s %11s %11s %7s %13s %13s %7s %s\n", "row", "k1rl tok/s", "torch tok/s",
                  "ratio", "k1rl cpu ms", "torch cpu ms", "cpu x", "same tokens");
    std::map<std::string, double> ratio, cpu_ratio, ours_rate, torch_rate;
    bool same_all = gen_rows;
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
      if (!g || !p) continue;
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
    if (gen_rows)
      std::printf(
          "(ratio = k1rl/torch tokens per second; cpu ms = CPU milliseconds per token; "
          "cpu x = torch/k1rl CPU time)\n");

    std::vector<bench::ProfileColumn> cols;
    for (const Row& r : rows)
      if (!r.prefill) cols.push_back({r.name, r.ours.stats.decode});
    for (const Row& r : rows)
      if (r.prefill && r.batch == 32) cols.push_back({r.name, r.ours.stats.prefill});
    if (!cols.empty()) bench::print_profile("SmolLM2-135M-Instruct", cols);
    if (shapes)
      for (const char* s : {"S", "M"}) bench::profile_shape(s, P, fresh, batches);

    // Training last: it changes both programs' weights.
    bench::JsonLine tj;
    auto train_row = [&](bool bf16, bool recompute) {
      const std::string sfx = std::string(bf16 ? "_bf16" : "") + (recompute ? "_recompute" : "");
      net.set_recompute(recompute);
      const double peak = d.gemm_peak();
      const bench::TrainRow tr =
          bench::run_train_row(net, ref.get(), train_batch, train_seq, train_steps, bf16);
      d.record(tr.ours_phase);
      if (tr.torch_ran) d.record(tr.torch_phase);
      const double fl = tr.tokens() * bench::train_flops_per_token(net.config(), train_seq) / 1e9;
      const double og = fl / tr.ours_s, tg = tr.torch_ran ? fl / tr.torch_s : 0;
      std::printf(
          "\ntrain%s%s %lld x %lld tokens (forward, backward, AdamW%s): k1rl %.1f tok/s %.1f "
          "GFLOP/s (%.2fx the fp32 sgemm peak %.0f), torch%s %.1f tok/s %.1f GFLOP/s, ratio %.2f, "
          "CPU "
          "s/step %.2f vs %.2f, losses %s (max relative difference %.1e; ours %.4f -> %.4f)\n",
          bf16 ? " bf16" : "", recompute ? " recompute" : "", (long long)train_batch,
          (long long)train_seq, bf16 ? "; bf16 products, fp32 master weights" : "",
          tr.tokens() / tr.ours_s, og, og / peak, peak, bf16 ? " autocast bf16" : "",
          tr.torch_ran ? tr.tokens() / tr.torch_s : 0, tg, bench::ratio(og, tg), tr.ours_cpu_s,
          tr.torch_cpu_s,
          !tr.torch_ran  ? "not compared"
          : tr.same_loss ? "agree"
                         : "DIFFER",
          tr.max_loss_rel_diff, tr.loss_first, tr.loss_last);
      if (!bf16 && !recompute) tj.integer("train_tokens", int64_t(tr.tokens()));
      tj.num("k1rl_train_tok_s" + sfx, tr.tokens() / tr.ours_s, 2)
          .num("torch_train_tok_s" + sfx, tr.torch_ran ? tr.tokens() / tr.torch_s : 0, 2)
          .num("train_ratio" + sfx, bench::ratio(og, tg), 3)
          .num("k1rl_train_gflops" + sfx, og, 1)
          .num("torch_train_gflops" + sfx, tg, 1)
          .num(bf16 ? "train_sgemm_peak_x_bf16" : "train_peak_frac" + sfx, og / peak, 3)
          .num("train_loss_rel_diff" + sfx, tr.max_loss_rel_diff, 6)
          .boolean("train_same_loss" + sfx, tr.same_loss);
    };
    if (train_batch > 0) {
      train_row(false, false);
      if (recompute) train_row(false, true);
      if (!no_bf16 && ops::bf16_supported()) {
        ops::set_precision(ops::Precision::bf16);
        train_row(true, false);
        tj.str("bf16_isa", ops::engine().bf16_isa);
        ops::set_precision(ops::Precision::fp32);
      } else if (!no_bf16) {
        std::printf("bf16 training row skipped: this CPU has neither AMX-BF16 nor AVX512-BF16\n");
      }
    }

    // The product's memory behaviour: the real app, a few RL iterations (rl-row.h).
    bench::JsonLine rj;
    if (rl_iterations > 0) {
      const std::string app =
          std::filesystem::read_symlink("/proc/self/exe").parent_path().string() + "/k1rl-train";
      const std::string dir = strfmt("/tmp/k1rl-bench-byom-rl-%d", int(getpid()));
      std::vector<std::string> extra;
      if (d.quick())
        extra = {"--rollout.prompts_per_iteration=2", "--train.groups_per_step=2",
                 "--rollout.max_answer_tokens=8", "--rollout.segment_tokens=8"};
      bench::Meter meter(true);
      const bench::RlRun rl = bench::run_rl_iterations(
          app, K1RL_BYOM_ROOT, "inputs/configs/smollm2-135m.ini", rl_iterations, dir, extra);
      d.record(meter.stop("k1rl-train RL iterations"));
      if (rl.rc != 0 || rl.iterations.empty()) {
        std::fprintf(stderr, "k1rl-bench-byom: error: k1rl-train exited %d; see %s\n", rl.rc,
                     rl.log.c_str());
        return 1;
      }
      rj = bench::report_rl(rl, net.num_params());
      std::filesystem::remove_all(dir);
    }

    d.json().str("bench", "byom");
    if (gen_rows)
      d.json()
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
    d.json().append(tj).append(rj);
    d.finish();
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-byom: error: %s\n", e.line().c_str());
    return 2;
  }
  return 0;
}
