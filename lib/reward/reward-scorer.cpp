// The Scorer: a task table, a sandbox and a pool of worker threads. Cheap checks (numbers,
// countdown) run on the submitting thread; code answers queue for the workers, each with its own
// sandbox slot. When a batch's last check lands, penalties are computed per group.
#include <unistd.h>

#include <algorithm>

#include "lib/reward/reward.h"

namespace k1rl {

struct Scorer::Batch {
  std::vector<Answer> answers;
  std::vector<const Task*> tasks;
  std::vector<CheckResult> checks;
  size_t pending = 0;
  int64_t iteration = 0;
  bool finished = false;
  std::vector<Score> scores;
};

Scorer::Scorer(RewardOptions opt, std::vector<Task> tasks) : opt_(std::move(opt)) {
  for (auto& t : tasks) {
    std::string id = t.id;
    if (!tasks_.emplace(id, std::move(t)).second)
      throw InputError("task id '" + id + "' appears twice", "ids must be unique across task files",
                       "regenerate the files with different tasks.name values");
  }
  bool any_code = std::any_of(tasks_.begin(), tasks_.end(),
                              [](const auto& kv) { return kv.second.task == "code"; });
  if (any_code && access(opt_.python.c_str(), X_OK) != 0)
    throw ConfigError("reward.python = '" + opt_.python + "' is not an executable",
                      "code tasks run their answers with it",
                      "point reward.python at a Python 3 under reward.sandbox_ro_paths");
  sandbox_ = std::make_unique<Sandbox>(opt_.sandbox);
  int n = opt_.workers > 0 ? opt_.workers : static_cast<int>(std::thread::hardware_concurrency());
  n = std::clamp(n, 1, 63);  // slot 63 is the sandbox probe's
  for (int i = 0; i < n; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

Scorer::~Scorer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

const Task* Scorer::find_task(const std::string& id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}

int64_t Scorer::sandbox_runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sandbox_runs_;
}

// A batch none of whose answers names a loaded task means reward.tasks is not the rollout's
// task file: an error, not a run of `unknown_task` zeros.
void Scorer::check_some_task_known(const Batch& b) const {
  if (b.answers.empty() ||
      std::any_of(b.tasks.begin(), b.tasks.end(), [](const Task* t) { return t != nullptr; }))
    return;
  throw InputError("no answer matches a task of the reward service",
                   strfmt("none of %zu answers' task ids (e.g. '%s') is among the %zu tasks loaded",
                          b.answers.size(), b.answers.front().task_id.c_str(), tasks_.size()),
                   "set reward.tasks to the run's task files, or leave it empty to load "
                   "tasks.train_file and tasks.heldout_file");
}

uint64_t Scorer::submit(std::vector<Answer> answers, int64_t iteration) {
  auto b = std::make_unique<Batch>();
  b->answers = std::move(answers);
  b->iteration = iteration;
  size_t n = b->answers.size();
  b->tasks.resize(n, nullptr);
  b->checks.resize(n);
  std::vector<size_t> queued;
  for (size_t i = 0; i < n; ++i) {
    const Answer& a = b->answers[i];
    const Task* t = a.task ? a.task.get() : find_task(a.task_id);
    b->tasks[i] = t;
    if (!t) {
      b->checks[i].reason = "unknown_task";
    } else if (t->task == "code") {
      queued.push_back(i);
    } else {
      b->checks[i] = check_answer(*t, a.text, nullptr, 0, opt_);
    }
  }
  check_some_task_known(*b);
  b->pending = queued.size();
  uint64_t ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ticket = next_ticket_++;
    Batch& ref = *b;
    batches_[ticket] = std::move(b);
    for (size_t i : queued) queue_.emplace_back(ticket, i);
    if (ref.pending == 0) finish(ref);
  }
  if (!queued.empty()) work_cv_.notify_all();
  done_cv_.notify_all();
  return ticket;
}

void Scorer::worker_loop(int slot) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto [ticket, idx] = queue_.front();
    queue_.pop_front();
    Batch& b = *batches_.at(ticket);  // batches stay until taken, and are taken only when finished
    const Task* t = b.tasks[idx];
    const std::string& text = b.answers[idx].text;
    lock.unlock();
    int runs = 0;
    CheckResult r = check_answer(*t, text, sandbox_.get(), slot, opt_, &runs);
    lock.lock();
    b.checks[idx] = std::move(r);
    sandbox_runs_ += runs;
    if (--b.pending == 0) {
      finish(b);
      done_cv_.notify_all();
    }
  }
}

void Scorer::finish(Batch& b) {
  size_t n = b.answers.size();
  b.scores.assign(n, Score{});
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < n; ++i) {
    const Answer& a = b.answers[i];
    groups[!a.group.empty() ? a.group : b.tasks[i] ? b.tasks[i]->id : a.task_id].push_back(i);
  }
  for (const auto& [key, idx] : groups) {
    std::vector<int64_t> lens;
    std::vector<bool> ok;
    for (size_t i : idx) {
      lens.push_back(b.answers[i].length);
      ok.push_back(b.checks[i].score >= 1.0);
    }
    std::vector<double> lr = length_rewards(lens, ok);
    for (size_t k = 0; k < idx.size(); ++k) b.scores[idx[k]].length = lr[k];
  }
  bool length_on = b.iteration < 0 || b.iteration >= opt_.length_penalty_warmup;
  for (size_t i = 0; i < n; ++i) {
    Score& s = b.scores[i];
    const CheckResult& c = b.checks[i];
    s.correct = c.score;
    s.reason = c.reason;
    s.extracted = c.extracted;
    s.repetition = repetition_penalty(b.answers[i].text, opt_.repetition_ngram,
                                      opt_.repetition_threshold, b.answers[i].repeated);
    s.total = s.correct + opt_.repetition_penalty_weight * s.repetition +
              (length_on ? opt_.length_penalty_weight * s.length : 0.0);
  }
  b.finished = true;
}

std::vector<Score> Scorer::wait(uint64_t ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = batches_.find(ticket);
  if (it == batches_.end())
    throw InputError("reward ticket " + std::to_string(ticket), "unknown or already taken",
                     "a bug in the caller: take each ticket once");
  Batch* b = it->second.get();
  done_cv_.wait(lock, [&] { return b->finished; });
  std::vector<Score> s = std::move(b->scores);
  batches_.erase(ticket);
  return s;
}

std::optional<std::pair<uint64_t, std::vector<Score>>> Scorer::poll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = batches_.begin(); it != batches_.end(); ++it) {
    if (!it->second->finished) continue;
    std::pair<uint64_t, std::vector<Score>> out{it->first, std::move(it->second->scores)};
    batches_.erase(it);
    return out;
  }
  return std::nullopt;
}

bool Scorer::wait_any(double timeout_s) {
  std::unique_lock<std::mutex> lock(mu_);
  auto any = [&] {
    for (const auto& kv : batches_)
      if (kv.second->finished) return true;
    return false;
  };
  return done_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), any);
}

std::vector<Score> Scorer::score_batch(std::vector<Answer> answers, int64_t iteration) {
  return wait(submit(std::move(answers), iteration));
}

}  // namespace k1rl
