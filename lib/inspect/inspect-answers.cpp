// `k1rl-inspect answers`: the buffer's trajectories as text (or JSON Lines), decoded with the
// run's tokenizer.
#include <filesystem>
#include <set>

#include "lib/inspect/inspect-impl.h"
#include "lib/json/json.h"

namespace fs = std::filesystem;

namespace k1rl::inspect {

namespace {

bool keep(const buffer::Trajectory& t, const std::string& status) {
  if (status.empty()) return true;
  if (status == "ended") return t.ended();
  if (status == "ready") return t.ready;
  return status == buffer::status_name(t.status);
}

// The iterations that generated the answer, in order ("3,4").
std::vector<int64_t> segment_iterations(const buffer::Trajectory& t) {
  std::vector<int64_t> out;
  for (int32_t s : t.segment_iter)
    if (out.empty() || out.back() != s) out.push_back(s);
  return out;
}

std::string default_config(const std::string& path) {
  if (is_dir(path)) return RunDir(path).config_ini();
  // <run>/buffer/it_000012.r0000.h5 -> <run>/config.ini
  return RunDir(fs::path(path).parent_path().parent_path().string()).config_ini();
}

// Text for a terminal: control bytes as \xNN (a model's raw output can hold any byte), lines
// after the first indented under their label.
std::string indented(const std::string& text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n')
      out += "\n          ";
    else if ((u < 0x20 && c != '\t') || u == 0x7f)
      out += strfmt("\\x%02x", u);
    else
      out += c;
  }
  return out;
}

// "3:1:7": the prompt draw of a group (iteration, rollout rank, index; buffer::GroupKey).
std::string group_text(int64_t group_id) {
  const buffer::GroupKey k = buffer::GroupKey::unpack(group_id);
  return strfmt("%lld:%d:%lld", static_cast<long long>(k.iteration), k.rank,
                static_cast<long long>(k.index));
}

void write_text(std::ostream& out, const buffer::Shard& s, const buffer::Trajectory& t,
                const std::string& prompt, const std::string& answer) {
  std::string comps;
  for (size_t i = 0; i < t.components.size() && i < s.component_names.size(); ++i)
    comps += strfmt("%s%s %.3g", i ? ", " : "", s.component_names[i].c_str(), t.components[i]);
  std::string its;
  for (int64_t i : segment_iterations(t)) {
    if (!its.empty()) its += ',';
    its += std::to_string(i);
  }
  out << strfmt(
      "it %lld r%d | prompt %lld group %s sample %d/%d | %s | %s%s | reward %.3f (%s) | %lld "
      "answer tokens, %d segment(s)%s\n",
      static_cast<long long>(s.iteration), s.rank, static_cast<long long>(t.prompt_id),
      group_text(t.group_id).c_str(), t.sample, t.group_size, t.task.c_str(),
      buffer::status_name(t.status), t.ready ? ", ready" : "", t.reward, comps.c_str(),
      static_cast<long long>(t.answer_len()), t.n_segments,
      its.empty() ? "" : (" from it " + its).c_str());
  out << "  prompt: " << indented(prompt) << "\n  answer: " << indented(answer) << "\n";
}

void write_json(std::ostream& out, const buffer::Shard& s, const buffer::Trajectory& t,
                const std::string& prompt, const std::string& answer) {
  Json comps = Json::make_object();
  for (size_t i = 0; i < t.components.size() && i < s.component_names.size(); ++i)
    comps.set(s.component_names[i], t.components[i]);
  Json its = Json::make_array();
  for (int64_t i : segment_iterations(t)) its.push(i);
  Json j = Json::make_object();
  j.add("iteration", s.iteration)
      .add("rank", s.rank)
      .add("prompt_id", t.prompt_id)
      .add("group_id", t.group_id)
      .add("group", group_text(t.group_id))
      .add("sample", t.sample)
      .add("group_size", t.group_size)
      .add("task", t.task)
      .add("status", buffer::status_name(t.status))
      .add("ready", t.ready)
      .add("reward", t.reward)
      .add("components", std::move(comps))
      .add("iteration_started", t.iteration_started)
      .add("n_segments", t.n_segments)
      .add("segment_iterations", std::move(its))
      .add("prompt_tokens", static_cast<int64_t>(t.prompt_len))
      .add("answer_tokens", t.answer_len())
      .add("prompt", prompt)
      .add("answer", answer);
  out << j.dump() << "\n";
}

}  // namespace

void answers(const std::string& path, const AnswerFilter& f, bool json,
             const std::string& config_path, std::ostream& out) {
  std::vector<buffer::Shard> shards = read_shards(path, f.iteration);
  if (shards.empty() && is_dir(path)) {
    if (f.iteration >= 0)
      throw InputError(
          strfmt("no shard of iteration %lld in %s", static_cast<long long>(f.iteration),
                 RunDir(path).buffer_dir().c_str()),
          "it was not generated yet, or retention deleted it",
          "see k1rl-inspect buffer " + path + " for the iterations present");
    if (!json) out << "no published shards in " << RunDir(path).buffer_dir() << "\n";
    return;
  }
  auto tok = run_tokenizer(config_path.empty() ? default_config(path) : config_path);
  // Group the rows of every rank by iteration, so --limit spreads over a whole iteration.
  std::map<int64_t, std::vector<std::pair<const buffer::Shard*, const buffer::Trajectory*>>> by_it;
  for (const auto& s : shards)
    if (f.iteration < 0 || s.iteration == f.iteration)  // (a SHARD given with --iteration)
      for (const auto& t : s.rows)
        if (keep(t, f.status)) by_it[s.iteration].push_back({&s, &t});
  size_t shown = 0;
  for (const auto& [it, rows] : by_it) {
    const size_t n = rows.size();
    const size_t k = f.limit > 0 ? std::min(n, static_cast<size_t>(f.limit)) : n;
    for (size_t j = 0; j < k; ++j) {
      const auto& [s, t] = rows[k == n ? j : j * n / k];
      const auto p0 = t->tokens.begin(), p1 = p0 + t->prompt_len;
      std::string prompt = printable(tok->decode({p0, p1}));
      std::string answer = printable(tok->decode({p1, t->tokens.end()}));
      if (json)
        write_json(out, *s, *t, prompt, answer);
      else
        write_text(out, *s, *t, prompt, answer);
      ++shown;
    }
  }
  if (!json && shown == 0) out << "no answers match\n";
}

}  // namespace k1rl::inspect
