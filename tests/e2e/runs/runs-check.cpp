// runs-check: what the run tests assert about a run directory, as one small tool.
//   count RUN_DIR        every (group, sample) ready in exactly one shard, nothing pending lost
//   behaviour RUN_DIR    which checkpoint θ_c generated each shard's new answer tokens
//   metrics RUN_A RUN_B  the metrics tables agree, timing columns aside (rows of ranks sorted
//                        by iteration and rank)
//   rows RUN_DIR TABLE   "<rows> <iteration column>" of a metrics table, e.g. "2 0,1"
// Prints what it found; exits 1 when a check fails, 2 on unreadable input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lib/buffer/buffer.h"
#include "lib/io/io.h"
#include "lib/model/model.h"

using namespace k1rl;

namespace {

using Key = std::pair<int64_t, int32_t>;  // (group_id, sample)

std::map<int64_t, std::vector<buffer::Trajectory>> shards_by_iteration(const std::string& run) {
  std::map<int64_t, std::vector<buffer::Trajectory>> by_it;
  for (const auto& ref : buffer::list_shards(run + "/buffer")) {
    auto rows = buffer::read_shard(ref.path).rows;
    auto& v = by_it[ref.iteration];
    v.insert(v.end(), rows.begin(), rows.end());
  }
  return by_it;
}

int latest_ckpt(const std::string& run) {
  if (!io::file_exists(run + "/ckpt/latest")) return -1;
  std::string name = io::read_text(run + "/ckpt/latest");  // it_000012.h5
  return std::stoi(name.substr(3, 6));
}

std::string ckpt(const std::string& run, int64_t it) {
  return run + strfmt("/ckpt/it_%06lld.h5", static_cast<long long>(it));
}

// No duplicated and no lost trajectory over the shards of a run.
int cmd_count(const std::string& run) {
  auto by_it = shards_by_iteration(run);
  int bad = 0;
  auto fail = [&](const std::string& s) {
    if (bad++ < 20) std::printf("count: FAIL: %s\n", s.c_str());
  };
  if (by_it.empty()) fail("no shards in " + run + "/buffer");
  const int latest = latest_ckpt(run);
  std::map<Key, int64_t> ready_in;  // where each trajectory was ready
  std::set<Key> pending_prev;       // not ready in the previous iteration's shards
  int64_t prev_it = -1, n_ready = 0, n_rows = 0;
  for (const auto& [it, rows] : by_it) {
    if (prev_it >= 0 && it != prev_it + 1)
      fail(strfmt("no shard for iteration %lld", static_cast<long long>(prev_it + 1)));
    if (latest >= 0 && it >= latest)
      fail(strfmt("shards of iteration %lld, which ckpt/latest (it %d) has not trained",
                  static_cast<long long>(it), latest));
    std::set<Key> here, pending;
    for (const auto& t : rows) {
      Key k{t.group_id, t.sample};
      ++n_rows;
      if (!here.insert(k).second)
        fail(strfmt("group %lld sample %d twice in iteration %lld", static_cast<long long>(k.first),
                    k.second, static_cast<long long>(it)));
      if (t.iteration_started < it && !pending_prev.count(k))
        fail(strfmt(
            "group %lld sample %d (started in %lld) in iteration %lld was not pending in %lld",
            static_cast<long long>(k.first), k.second, static_cast<long long>(t.iteration_started),
            static_cast<long long>(it), static_cast<long long>(it - 1)));
      if (t.ready) {
        ++n_ready;
        auto [pos, fresh] = ready_in.emplace(k, it);
        if (!fresh)
          fail(strfmt("group %lld sample %d ready in iterations %lld and %lld",
                      static_cast<long long>(k.first), k.second,
                      static_cast<long long>(pos->second), static_cast<long long>(it)));
      } else {
        pending.insert(k);
      }
    }
    for (const auto& k : pending_prev)
      if (!here.count(k))
        fail(strfmt("group %lld sample %d pending after iteration %lld is lost in %lld",
                    static_cast<long long>(k.first), k.second, static_cast<long long>(it - 1),
                    static_cast<long long>(it)));
    pending_prev = std::move(pending);
    prev_it = it;
  }
  std::printf(
      "count: %zu iteration(s) of shards (0..%lld), %lld rows, %lld ready trajectories, %zu "
      "pending at the end; "
      "ckpt/latest it %d\n",
      by_it.size(), static_cast<long long>(prev_it), static_cast<long long>(n_rows),
      static_cast<long long>(n_ready), pending_prev.size(), latest);
  std::printf("count: %s\n", bad ? strfmt("FAIL (%d problem(s))", bad).c_str()
                                 : "OK: no duplicated and no lost trajectory");
  return bad ? 1 : 0;
}

// For each shard iteration s: max |stored behaviour log-prob − log-prob under θ_c| over the
// answer tokens generated in s, for c = s-1 and s. Prints "behaviour: s:c ..." with the best c
// ("s:?" when θ_{s-1} and θ_s give the same log-probs, e.g. after an iteration with nothing to
// train).
int cmd_behaviour(const std::string& run) {
  auto by_it = shards_by_iteration(run);
  std::map<int64_t, std::unique_ptr<model::Model>> models;
  auto get = [&](int64_t c) -> model::Model* {
    if (c < 0 || !io::file_exists(ckpt(run, c))) return nullptr;
    auto& m = models[c];
    if (!m) {
      m = std::make_unique<model::Model>(model::read_checkpoint_config(ckpt(run, c)));
      model::load_checkpoint(ckpt(run, c), *m, nullptr);
    }
    return m.get();
  };
  std::string summary;
  int bad = 0;
  for (const auto& [s, rows] : by_it) {
    // One packed batch of every trajectory with tokens generated in s; mask those tokens.
    model::Batch b;
    b.cu.push_back(0);
    std::vector<float> want;
    for (const auto& t : rows) {
      bool any = false;
      for (size_t j = 0; j < t.segment_iter.size(); ++j) any |= t.segment_iter[j] == s;
      if (!any) continue;
      for (size_t i = 0; i < t.tokens.size(); ++i) {
        b.tokens.push_back(t.tokens[i]);
        const int64_t a = static_cast<int64_t>(i) - t.prompt_len;  // answer index
        const bool mine = a >= 0 && t.segment_iter[static_cast<size_t>(a)] == s;
        b.mask.push_back(mine ? 1 : 0);
        if (mine) want.push_back(t.logprobs[static_cast<size_t>(a)]);
      }
      b.cu.push_back(static_cast<int32_t>(b.tokens.size()));
    }
    if (want.empty()) {
      std::printf("behaviour: iteration %lld: no new answer tokens\n", static_cast<long long>(s));
      continue;
    }
    double err[2] = {INFINITY, INFINITY};
    for (int d = 0; d < 2; ++d) {
      model::Model* m = get(s - 1 + d);
      if (!m) continue;
      model::ForwardOptions fo;
      fo.entropy = false;
      const model::TokenOutputs& out = m->forward(b, fo);
      double e = 0;
      size_t w = 0;
      for (size_t i = 0; i < b.tokens.size(); ++i)
        if (b.mask[i]) e = std::max(e, std::fabs(static_cast<double>(out.logprob[i]) - want[w++]));
      err[d] = e;
    }
    const int best = err[0] < err[1] ? 0 : 1;
    const double lo = std::min(err[0], err[1]), hi = std::max(err[0], err[1]);
    std::printf(
        "behaviour: iteration %lld: %zu new tokens; max |Δ logprob| vs θ_%lld %.3g, vs θ_%lld %.3g "
        "-> θ_%lld\n",
        static_cast<long long>(s), want.size(), static_cast<long long>(s - 1), err[0],
        static_cast<long long>(s), err[1], static_cast<long long>(s - 1 + best));
    if (lo < 1e-3 && hi < 1e-4) {  // θ_{s-1} and θ_s agree (nothing trained in s-1): either fits
      summary += strfmt(" %lld:?", static_cast<long long>(s));
      continue;
    }
    if (!(lo < 1e-3 && hi > 10 * lo)) {
      std::printf("behaviour: FAIL: iteration %lld matches neither checkpoint clearly\n",
                  static_cast<long long>(s));
      ++bad;
    }
    summary +=
        strfmt(" %lld:%lld", static_cast<long long>(s), static_cast<long long>(s - 1 + best));
  }
  std::printf("behaviour:%s\n", summary.c_str());
  return bad ? 1 : 0;
}

// Seconds and the writing process's resource use (proc_*: CPU time, page faults, peak RSS)
// differ from run to run; everything else must not.
bool timing(const std::string& col) {
  return (col.size() > 2 && col.compare(col.size() - 2, 2, "_s") == 0) ||
         col.rfind("proc_", 0) == 0;
}

// Ranks append their rows concurrently: order a table with a rank column by (iteration, rank).
std::map<std::string, std::vector<double>> sorted_table(const std::string& run, const char* table) {
  auto t = io::read_table(run + "/metrics.h5", table);
  if (!t.count("rank") || !t.count("iteration")) return t;
  const auto &it = t.at("iteration"), &rk = t.at("rank");
  std::vector<size_t> order(it.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return std::make_pair(it[x], rk[x]) < std::make_pair(it[y], rk[y]);
  });
  for (auto& [col, v] : t) {
    std::vector<double> w(v.size());
    for (size_t i = 0; i < v.size() && i < order.size(); ++i) w[i] = v[order[i]];
    v = std::move(w);
  }
  return t;
}

int cmd_metrics(const std::string& a, const std::string& b) {
  int bad = 0;
  for (const char* table : {"iteration", "train", "rollout", "reward"}) {
    auto ta = sorted_table(a, table), tb = sorted_table(b, table);
    double worst = 0;
    size_t rows = 0, cols = 0;
    for (const auto& [col, va] : ta) {
      if (timing(col) || col == "slot_util") continue;
      auto it = tb.find(col);
      if (it == tb.end() || it->second.size() != va.size()) {
        std::printf("metrics: FAIL: /%s.%s: %zu rows vs %s\n", table, col.c_str(), va.size(),
                    it == tb.end() ? "missing" : std::to_string(it->second.size()).c_str());
        ++bad;
        continue;
      }
      ++cols;
      rows = va.size();
      for (size_t i = 0; i < va.size(); ++i) {
        if (std::isnan(va[i]) && std::isnan(it->second[i])) continue;
        const double d = std::fabs(va[i] - it->second[i]);
        worst = std::isnan(d) ? INFINITY : std::max(worst, d);
      }
    }
    std::printf("metrics: /%s: %zu rows, %zu columns compared, max |difference| %.3g\n", table,
                rows, cols, worst);
    if (worst > 0) ++bad;
  }
  std::printf("metrics: %s\n", bad ? "FAIL" : "OK: identical (timing columns aside)");
  return bad ? 1 : 0;
}

int cmd_rows(const std::string& run, const std::string& table) {
  auto t = io::read_table(run + "/metrics.h5", table);
  const auto& it = t.at("iteration");
  std::string list;
  for (double v : it) {
    if (!list.empty()) list += ',';
    list += strfmt("%.0f", v);
  }
  std::printf("%zu %s\n", it.size(), list.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "count" && argc == 3) return cmd_count(argv[2]);
    if (cmd == "behaviour" && argc == 3) return cmd_behaviour(argv[2]);
    if (cmd == "metrics" && argc == 4) return cmd_metrics(argv[2], argv[3]);
    if (cmd == "rows" && argc == 4) return cmd_rows(argv[2], argv[3]);
  } catch (const Error& e) {
    std::fprintf(stderr, "runs-check: error: %s\n", e.line().c_str());
    return 2;
  }
  std::fprintf(stderr,
               "usage: runs-check count RUN_DIR | behaviour RUN_DIR | metrics RUN_A RUN_B | rows "
               "RUN_DIR TABLE\n");
  return 64;
}
