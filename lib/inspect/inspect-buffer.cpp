// `k1rl-inspect buffer`: per iteration status counts, answer lengths and parked answers' ages.
#include <algorithm>
#include <map>

#include "lib/inspect/inspect-impl.h"

namespace k1rl::inspect {

namespace {

struct IterationStats {
  int ranks = 0;
  int64_t rows = 0, ready = 0;
  int64_t status[4] = {0, 0, 0, 0};  // by buffer::Status
  std::vector<int64_t> lengths;      // answer tokens of every row
  std::map<int64_t, int64_t> ages;   // open rows: iteration − iteration_started -> count
};

int64_t percentile(std::vector<int64_t> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

}  // namespace

void buffer_report(const std::string& run_dir, std::ostream& out) {
  require_run_dir(run_dir);
  std::map<int64_t, IterationStats> by_it;
  int64_t longest = 0;
  for (const auto& s : read_shards(run_dir, -1)) {
    IterationStats& st = by_it[s.iteration];
    ++st.ranks;
    for (const auto& t : s.rows) {
      ++st.rows;
      st.ready += t.ready;
      ++st.status[static_cast<int>(t.status)];
      st.lengths.push_back(t.answer_len());
      longest = std::max(longest, t.answer_len());
      if (!t.ended()) ++st.ages[s.iteration - t.iteration_started];
    }
  }
  if (by_it.empty()) {
    out << "no published shards in " << RunDir(run_dir).buffer_dir() << "\n";
    return;
  }
  constexpr int kBins = 8;
  const int64_t width = std::max<int64_t>(1, (longest + kBins) / kBins);  // bins cover 0..longest
  out << strfmt("buffer %s: %zu iteration(s) %lld..%lld; answer lengths in tokens\n",
                RunDir(run_dir).buffer_dir().c_str(), by_it.size(),
                static_cast<long long>(by_it.begin()->first),
                static_cast<long long>(by_it.rbegin()->first));
  out << strfmt("%9s %5s %6s %6s %8s %9s %8s %6s | %4s %4s %4s | histogram", "iteration", "ranks",
                "rows", "open", "finished", "truncated", "repeated", "ready", "p50", "p90", "max");
  for (int b = 0; b < kBins; ++b)
    out << strfmt(" %lld-%lld", static_cast<long long>(b * width),
                  static_cast<long long>((b + 1) * width - 1));
  out << " | open ages (age:count)\n";
  for (const auto& [it, st] : by_it) {
    out << strfmt("%9lld %5d %6lld %6lld %8lld %9lld %8lld %6lld | %4lld %4lld %4lld |",
                  static_cast<long long>(it), st.ranks, static_cast<long long>(st.rows),
                  static_cast<long long>(st.status[0]), static_cast<long long>(st.status[1]),
                  static_cast<long long>(st.status[2]), static_cast<long long>(st.status[3]),
                  static_cast<long long>(st.ready),
                  static_cast<long long>(percentile(st.lengths, 0.5)),
                  static_cast<long long>(percentile(st.lengths, 0.9)),
                  static_cast<long long>(percentile(st.lengths, 1.0)));
    int64_t hist[kBins] = {};
    for (int64_t len : st.lengths) ++hist[std::min<int64_t>(kBins - 1, len / width)];
    for (int b = 0; b < kBins; ++b) {
      const std::string label = strfmt(" %lld-%lld", static_cast<long long>(b * width),
                                       static_cast<long long>((b + 1) * width - 1));
      out << strfmt(" %*lld", static_cast<int>(label.size()) - 1, static_cast<long long>(hist[b]));
    }
    out << " |";
    if (st.ages.empty()) out << " -";
    for (const auto& [age, n] : st.ages)
      out << strfmt(" %lld:%lld", static_cast<long long>(age), static_cast<long long>(n));
    out << "\n";
  }
}

}  // namespace k1rl::inspect
