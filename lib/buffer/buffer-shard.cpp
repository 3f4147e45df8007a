// Shard files (buffer/1): one row per trajectory as column datasets, ragged token data as flat
// arrays with offsets, task kinds as an index into the attribute task_names.
#include <algorithm>
#include <cinttypes>
#include <filesystem>
#include <map>

#include "lib/buffer/buffer.h"
#include "lib/io/io.h"
#include "lib/rundir/rundir.h"

namespace fs = std::filesystem;

namespace k1rl::buffer {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : "\n") + x;
  return s;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> v;
  if (s.empty()) return v;
  size_t a = 0;
  while (true) {
    size_t b = s.find('\n', a);
    v.push_back(s.substr(a, b - a));
    if (b == std::string::npos) return v;
    a = b + 1;
  }
}

void check_row(const Trajectory& t, size_t n_comp, size_t i) {
  auto bad = [&](const std::string& why) {
    throw InputError(strfmt("inconsistent trajectory %zu (prompt %" PRId64 ", sample %d)", i,
                            t.prompt_id, t.sample),
                     why, "a bug in the rollout code; nothing was written");
  };
  if (t.prompt_len < 0 || t.answer_len() < 0) bad("prompt longer than the tokens");
  if (static_cast<int64_t>(t.logprobs.size()) != t.answer_len()) bad("logprobs != answer tokens");
  if (static_cast<int64_t>(t.segment_iter.size()) != t.answer_len())
    bad("segment_iter != answer tokens");
  if (t.components.size() != n_comp) bad("wrong number of reward components");
  if (!t.rng.empty() && t.rng.size() != 4) bad("rng state must have 4 words");
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::open:
      return "open";
    case Status::finished:
      return "finished";
    case Status::truncated:
      return "truncated";
    case Status::repeated:
      return "repeated";
  }
  return "?";
}

int64_t GroupKey::pack() const {
  auto fits = [](int64_t v, int bits) { return v >= 0 && v < (int64_t{1} << bits); };
  if (!fits(iteration, kIterationBits) || !fits(rank, kRankBits) || !fits(index, kIndexBits))
    throw InputError(
        "group key out of range",
        strfmt("iteration %" PRId64 ", rank %d, index %" PRId64 " (limits 2^%d, 2^%d, 2^%d)",
               iteration, rank, index, kIterationBits, kRankBits, kIndexBits),
        "use fewer rollout ranks or fewer prompts per rank and iteration");
  return (iteration << (kRankBits + kIndexBits)) | (int64_t{rank} << kIndexBits) | index;
}

GroupKey GroupKey::unpack(int64_t id) {
  const int64_t index_mask = (int64_t{1} << kIndexBits) - 1;
  const int64_t rank_mask = (int64_t{1} << kRankBits) - 1;
  return {id >> (kRankBits + kIndexBits), static_cast<int32_t>((id >> kIndexBits) & rank_mask),
          id & index_mask};
}

std::string shard_path(const std::string& dir, int64_t iteration, int32_t rank) {
  return dir + "/" + RunDir::shard_name(iteration, rank);
}

void write_shard(const std::string& dir, const Shard& s) {
  const size_t n = s.rows.size(), nc = s.component_names.size();
  std::vector<int64_t> prompt_id(n), group_id(n), it_start(n), tok_off(n + 1, 0), ans_off(n + 1, 0);
  std::vector<int32_t> sample(n), group_size(n), status(n), prompt_len(n), n_seg(n), task(n);
  std::vector<uint8_t> ready(n), has_rng(n);
  std::vector<double> reward(n), comps(n * nc);
  std::vector<uint64_t> rng(n * 4, 0);
  std::vector<int32_t> tokens, seg;
  std::vector<float> logprobs;
  std::map<std::string, int32_t> task_ids;
  std::vector<std::string> task_names;
  for (size_t i = 0; i < n; ++i) {
    const Trajectory& t = s.rows[i];
    check_row(t, nc, i);
    prompt_id[i] = t.prompt_id;
    group_id[i] = t.group_id;
    it_start[i] = t.iteration_started;
    sample[i] = t.sample;
    group_size[i] = t.group_size;
    status[i] = static_cast<int32_t>(t.status);
    prompt_len[i] = t.prompt_len;
    n_seg[i] = t.n_segments;
    ready[i] = t.ready;
    reward[i] = t.reward;
    std::copy(t.components.begin(), t.components.end(), comps.begin() + static_cast<long>(i * nc));
    has_rng[i] = !t.rng.empty();
    if (has_rng[i]) std::copy(t.rng.begin(), t.rng.end(), rng.begin() + static_cast<long>(i * 4));
    auto [it, fresh] = task_ids.emplace(t.task, static_cast<int32_t>(task_names.size()));
    if (fresh) task_names.push_back(t.task);
    task[i] = it->second;
    tokens.insert(tokens.end(), t.tokens.begin(), t.tokens.end());
    logprobs.insert(logprobs.end(), t.logprobs.begin(), t.logprobs.end());
    seg.insert(seg.end(), t.segment_iter.begin(), t.segment_iter.end());
    tok_off[i + 1] = static_cast<int64_t>(tokens.size());
    ans_off[i + 1] = static_cast<int64_t>(logprobs.size());
  }
  io::make_dirs(dir);
  io::AtomicH5 w(shard_path(dir, s.iteration, s.rank), "buffer/1");
  hid_t r = w.root();
  io::set_attr(r, "iteration", s.iteration);
  io::set_attr(r, "rank", static_cast<int64_t>(s.rank));
  io::set_attr(r, "n_rows", static_cast<int64_t>(n));
  io::set_attr(r, "component_names", join(s.component_names));
  io::set_attr(r, "task_names", join(task_names));
  io::write_dataset(r, "prompt_id", prompt_id);
  io::write_dataset(r, "sample", sample);
  io::write_dataset(r, "group_id", group_id);
  io::write_dataset(r, "group_size", group_size);
  io::write_dataset(r, "task", task);
  io::write_dataset(r, "status", status);
  io::write_dataset(r, "ready", ready);
  io::write_dataset(r, "iteration_started", it_start);
  io::write_dataset(r, "prompt_len", prompt_len);
  io::write_dataset(r, "n_segments", n_seg);
  io::write_dataset(r, "reward", reward);
  io::write_dataset(r, "components", comps.data(), {n, nc});
  io::write_dataset(r, "has_rng", has_rng);
  io::write_dataset(r, "rng", rng.data(), {n, 4});
  io::write_dataset(r, "token_offsets", tok_off);
  io::write_dataset(r, "answer_offsets", ans_off);
  io::write_dataset(r, "tokens", tokens);
  io::write_dataset(r, "logprobs", logprobs);
  io::write_dataset(r, "segment_iter", seg);
  w.publish();
}

Shard read_shard(const std::string& path) {
  io::H5Reader rd(path, "buffer", 1);
  hid_t r = rd.root();
  Shard s;
  s.iteration = io::get_attr_int(r, "iteration");
  s.rank = static_cast<int32_t>(io::get_attr_int(r, "rank"));
  s.component_names = split(io::get_attr_string(r, "component_names"));
  auto task_names = split(io::get_attr_string(r, "task_names"));
  const size_t n = static_cast<size_t>(io::get_attr_int(r, "n_rows")),
               nc = s.component_names.size();
  auto col = [&](auto tag, const char* name) {
    using T = decltype(tag);
    auto v = io::read_dataset<T>(r, name);
    if (v.size() != n)
      throw IoError("corrupt buffer shard '" + path + "'",
                    strfmt("column %s has %zu rows, expected %zu", name, v.size(), n),
                    "delete the shard of the iteration in flight and rerun it");
    return v;
  };
  auto prompt_id = col(int64_t{}, "prompt_id"), group_id = col(int64_t{}, "group_id"),
       it_start = col(int64_t{}, "iteration_started");
  auto sample = col(int32_t{}, "sample"), group_size = col(int32_t{}, "group_size"),
       task = col(int32_t{}, "task"), status = col(int32_t{}, "status"),
       prompt_len = col(int32_t{}, "prompt_len"), n_seg = col(int32_t{}, "n_segments");
  auto ready = col(uint8_t{}, "ready"), has_rng = col(uint8_t{}, "has_rng");
  auto reward = col(double{}, "reward");
  auto comps = io::read_dataset<double>(r, "components");
  auto rng = io::read_dataset<uint64_t>(r, "rng");
  auto tok_off = io::read_dataset<int64_t>(r, "token_offsets");
  auto ans_off = io::read_dataset<int64_t>(r, "answer_offsets");
  auto tokens = io::read_dataset<int32_t>(r, "tokens");
  auto logprobs = io::read_dataset<float>(r, "logprobs");
  auto seg = io::read_dataset<int32_t>(r, "segment_iter");
  auto corrupt = [&](const std::string& why) {
    return IoError("corrupt buffer shard '" + path + "'", why,
                   "delete the shard of the iteration in flight and rerun it");
  };
  if (comps.size() != n * nc || rng.size() != n * 4 || tok_off.size() != n + 1 ||
      ans_off.size() != n + 1 || tok_off[n] != static_cast<int64_t>(tokens.size()) ||
      ans_off[n] != static_cast<int64_t>(logprobs.size()) || seg.size() != logprobs.size())
    throw corrupt("array sizes disagree with the row count");
  s.rows.resize(n);
  for (size_t i = 0; i < n; ++i) {
    Trajectory& t = s.rows[i];
    if (tok_off[i + 1] < tok_off[i] || ans_off[i + 1] < ans_off[i] || task[i] < 0 ||
        static_cast<size_t>(task[i]) >= task_names.size() || status[i] < 0 || status[i] > 3)
      throw corrupt(strfmt("row %zu has bad offsets or codes", i));
    t.prompt_id = prompt_id[i];
    t.sample = sample[i];
    t.group_id = group_id[i];
    t.group_size = group_size[i];
    t.task = task_names[static_cast<size_t>(task[i])];
    t.status = static_cast<Status>(status[i]);
    t.ready = ready[i] != 0;
    t.iteration_started = it_start[i];
    t.prompt_len = prompt_len[i];
    t.n_segments = n_seg[i];
    t.reward = reward[i];
    t.components.assign(comps.begin() + static_cast<long>(i * nc),
                        comps.begin() + static_cast<long>((i + 1) * nc));
    t.tokens.assign(tokens.begin() + tok_off[i], tokens.begin() + tok_off[i + 1]);
    t.logprobs.assign(logprobs.begin() + ans_off[i], logprobs.begin() + ans_off[i + 1]);
    t.segment_iter.assign(seg.begin() + ans_off[i], seg.begin() + ans_off[i + 1]);
    if (has_rng[i])
      t.rng.assign(rng.begin() + static_cast<long>(i * 4),
                   rng.begin() + static_cast<long>(i * 4 + 4));
    if (t.answer_len() != ans_off[i + 1] - ans_off[i])
      throw corrupt(strfmt("row %zu: answer tokens and log-probs disagree", i));
  }
  return s;
}

std::vector<ShardRef> list_shards(const std::string& dir) {
  std::vector<ShardRef> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (io::is_temp_name(name)) continue;
    int64_t it = 0;
    int32_t rank = 0;
    if (RunDir::parse_shard_name(name, it, rank)) out.push_back({it, rank, e.path().string()});
  }
  std::sort(out.begin(), out.end(), [](const ShardRef& a, const ShardRef& b) {
    return a.iteration != b.iteration ? a.iteration < b.iteration : a.rank < b.rank;
  });
  return out;
}

int64_t latest_iteration(const std::string& dir) {
  auto shards = list_shards(dir);
  return shards.empty() ? -1 : shards.back().iteration;
}

std::vector<Trajectory> select(const std::string& dir, int64_t iteration,
                               const std::function<bool(const Trajectory&)>& keep,
                               std::vector<std::string>* component_names) {
  std::vector<Trajectory> out;
  bool named = false;
  for (const auto& ref : list_shards(dir)) {
    if (ref.iteration != iteration) continue;
    Shard shard = read_shard(ref.path);
    if (component_names != nullptr) {
      if (named && shard.component_names != *component_names)
        throw InputError("shards of iteration " + std::to_string(iteration) + " disagree",
                         ref.path + " names other reward components than the shards before it",
                         "every rollout rank of a run must run the same build and config");
      *component_names = shard.component_names;
      named = true;
    }
    for (auto& t : shard.rows)
      if (keep(t)) out.push_back(std::move(t));
  }
  return out;
}

void AnswerStats::add(double reward, double correct, int64_t answer_len) {
  answers += 1;
  reward_sum += reward;
  correct_sum += correct;
  length_sum += static_cast<double>(answer_len);
}
double AnswerStats::reward_mean() const {
  return answers > 0 ? reward_sum / answers : 0.0;
}
double AnswerStats::accuracy() const {
  return answers > 0 ? correct_sum / answers : 0.0;
}
double AnswerStats::answer_len_mean() const {
  return answers > 0 ? length_sum / answers : 0.0;
}

int component_index(const std::vector<std::string>& names, const std::string& name) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  return -1;
}

AnswerStats answer_stats(const std::vector<Trajectory>& rows,
                         const std::vector<std::string>& names) {
  const int c = component_index(names, "correct");
  AnswerStats s;
  for (const auto& t : rows)
    s.add(t.reward,
          c >= 0 && static_cast<size_t>(c) < t.components.size()
              ? t.components[static_cast<size_t>(c)]
              : 0.0,
          t.answer_len());
  return s;
}

}  // namespace k1rl::buffer
