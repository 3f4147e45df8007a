// Answers and scores as JSON: offline scoring of JSON Lines files (k1rl-reward --score) and the
// reward wire format (a header line, then one JSON line per answer or score; docs/reward.md).
#include "lib/reward/reward.h"

namespace k1rl {

namespace {
const char* kWireFormat = "reward/1";
}

Answer answer_from_json(const Json& j) {
  if (!j.is_object())
    throw InputError("bad answer", "an answer must be a JSON object", "see docs/reward.md");
  Answer a;
  if (const Json& id = j["id"]; !id.is_null())
    a.task_id = id.is_string() ? id.as_string() : std::to_string(id.as_int());
  if (j["task"].is_object()) a.task = std::make_shared<const Task>(task_from_json(j["task"]));
  a.text = j.has("text") ? json_string(j, "text") : json_string(j, "response");
  a.length = j.has("len") ? json_int(j, "len")
                          : json_int(j, "length", static_cast<int64_t>(a.text.size()));
  if (const Json& g = j["group"]; !g.is_null())
    a.group = g.is_string() ? g.as_string() : std::to_string(g.as_int());
  a.repeated = json_bool(j, "repeated", false);
  if (a.task_id.empty() && !a.task)
    throw InputError("bad answer", "it has neither \"id\" nor an inline \"task\"",
                     "give the task id the answer is for (see docs/reward.md)");
  return a;
}

Json answer_to_json(const Answer& a) {
  Json j = Json::make_object();
  j.set("id", a.task_id).set("text", a.text).set("len", a.length);
  if (!a.group.empty()) j.set("group", a.group);
  if (a.repeated) j.set("repeated", true);
  if (a.task) j.set("task", task_to_json(*a.task));
  return j;
}

Json score_to_json(const Score& s) {
  Json j = Json::make_object();
  j.set("reward", s.total).set("correct", s.correct).set("length", s.length);
  j.set("repetition", s.repetition).set("reason", s.reason).set("extracted", s.extracted);
  return j;
}

Score score_from_json(const Json& j) {
  Score s;
  s.total = json_at(j, "reward").as_number();
  s.correct = json_double(j, "correct");
  s.length = json_double(j, "length");
  s.repetition = json_double(j, "repetition");
  s.reason = json_string(j, "reason");
  s.extracted = json_string(j, "extracted");
  return s;
}

int64_t score_file(Scorer& scorer, const std::string& in_path, const std::string& out_path,
                   int64_t iteration) {
  std::vector<Json> rows = read_jsonl(in_path);
  std::vector<Answer> answers;
  answers.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    try {
      answers.push_back(answer_from_json(rows[i]));
    } catch (const InputError& e) {
      throw InputError(in_path + ": answer " + std::to_string(i + 1), e.why(), e.hint());
    }
  }
  std::vector<Score> scores = scorer.score_batch(answers, iteration);
  std::vector<Json> out;
  out.reserve(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    Json j = Json::make_object();
    j.set("id",
          answers[i].task_id.empty() && answers[i].task ? answers[i].task->id : answers[i].task_id);
    Json sj = score_to_json(scores[i]);
    for (const auto& kv : sj.members()) j.set(kv.first, kv.second);
    out.push_back(std::move(j));
  }
  write_jsonl(out_path, out);
  return static_cast<int64_t>(scores.size());
}

// ---------------------------------------------------------------------------------------------
// Wire format.
namespace {
// Splits a message into lines (the last may lack its newline).
std::vector<std::string> lines_of(const std::string& msg) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p < msg.size()) {
    size_t e = msg.find('\n', p);
    if (e == std::string::npos) e = msg.size();
    out.push_back(msg.substr(p, e - p));
    p = e + 1;
  }
  return out;
}

Json header_of(const std::vector<std::string>& lines, const char* kind) {
  if (lines.empty())
    throw InputError(std::string("bad reward ") + kind, "empty message",
                     "both sides must run the same k1rl");
  Json h = Json::parse(lines[0], std::string("reward ") + kind + " header");
  if (json_string(h, "k1rl") != kWireFormat)
    throw InputError(std::string("bad reward ") + kind,
                     "header format '" + json_string(h, "k1rl") + "' is not " + kWireFormat,
                     "both sides must run the same k1rl");
  size_t n = static_cast<size_t>(json_at(h, "n").as_int());
  if (lines.size() != n + 1)
    throw InputError(std::string("bad reward ") + kind,
                     strfmt("header says %zu items, message has %zu", n, lines.size() - 1),
                     "both sides must run the same k1rl");
  return h;
}
}  // namespace

std::string encode_request(uint64_t seq, int64_t iteration, const std::vector<Answer>& answers) {
  Json h = Json::make_object();
  h.set("k1rl", kWireFormat).set("seq", static_cast<int64_t>(seq)).set("iteration", iteration);
  h.set("n", static_cast<int64_t>(answers.size()));
  std::string msg = h.dump() + "\n";
  for (const auto& a : answers) msg += answer_to_json(a).dump() + "\n";
  return msg;
}

void decode_request(const std::string& msg, uint64_t* seq, int64_t* iteration,
                    std::vector<Answer>* answers) {
  std::vector<std::string> lines = lines_of(msg);
  Json h = header_of(lines, "request");
  *seq = static_cast<uint64_t>(json_at(h, "seq").as_int());
  *iteration = json_int(h, "iteration", -1);
  answers->clear();
  for (size_t i = 1; i < lines.size(); ++i)
    answers->push_back(answer_from_json(Json::parse(lines[i], "reward request")));
}

std::string encode_result(uint64_t seq, const std::vector<Score>& scores) {
  Json h = Json::make_object();
  h.set("k1rl", kWireFormat)
      .set("seq", static_cast<int64_t>(seq))
      .set("n", static_cast<int64_t>(scores.size()));
  std::string msg = h.dump() + "\n";
  for (const auto& s : scores) msg += score_to_json(s).dump() + "\n";
  return msg;
}

void decode_result(const std::string& msg, uint64_t* seq, std::vector<Score>* scores) {
  std::vector<std::string> lines = lines_of(msg);
  Json h = header_of(lines, "result");
  *seq = static_cast<uint64_t>(json_at(h, "seq").as_int());
  scores->clear();
  for (size_t i = 1; i < lines.size(); ++i)
    scores->push_back(score_from_json(Json::parse(lines[i], "reward result")));
}

}  // namespace k1rl
