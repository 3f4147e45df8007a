// The reward service over the rollout<->reward intercommunicator: reward ranks receive batches
// from any rollout rank, score them on the Scorer's pool and send each batch back as soon as it is
// done; rollout ranks use RewardClient. Only the calling thread touches MPI (MPI_THREAD_FUNNELED).
#include <algorithm>
#include <climits>
#include <list>

#include "lib/reward/reward.h"

namespace k1rl {

namespace {
std::string recv_bytes(MPI_Comm inter, const MPI_Status& st) {
  int count = 0;
  K1RL_MPI_CHECK(MPI_Get_count(&st, MPI_CHAR, &count));
  std::string msg(static_cast<size_t>(count), '\0');
  K1RL_MPI_CHECK(
      MPI_Recv(msg.data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, inter, MPI_STATUS_IGNORE));
  return msg;
}

int checked_count(const std::string& msg) {
  if (msg.size() > static_cast<size_t>(INT32_MAX))
    throw InputError("reward message too large", strfmt("%zu bytes", msg.size()),
                     "send smaller batches of answers");
  return static_cast<int>(msg.size());
}
}  // namespace

namespace {
// Per-iteration bookkeeping of reward_serve: totals, batches in flight, and the flush rule.
class IterationBook {
 public:
  IterationBook(const IterationCallback& cb, int sources) : cb_(cb), newest_(sources, INT64_MIN) {}
  void request(int source, int64_t it, size_t answers) {
    IterationStats& s = at(it);
    if (s.requests++ == 0) s.first_s = seconds_since_start();
    s.answers += static_cast<int64_t>(answers);
    ++inflight_[it];
    newest_[source] = std::max(newest_[source], it);
  }
  void stop(int source) { newest_[source] = INT64_MAX; }
  void result(int64_t it, const std::vector<Score>& scores, int64_t sandbox_runs) {
    IterationStats& s = at(it);
    for (const auto& sc : scores) {
      s.reward_sum += sc.total;
      s.correct_sum += sc.correct;
      s.length_sum += sc.length;
      s.repetition_sum += sc.repetition;
      s.no_answer += sc.reason == "no_answer";
    }
    s.sandbox_runs += sandbox_runs;
    s.last_s = seconds_since_start();
    --inflight_[it];
  }
  // Hands over every iteration that is done: every rollout rank has moved past it (or stopped)
  // and none of its batches is in flight (all = true: everything, at the end).
  void flush(bool all) {
    int64_t oldest =
        newest_.empty() ? INT64_MAX : *std::min_element(newest_.begin(), newest_.end());
    for (auto it = stats_.begin(); it != stats_.end();) {
      if (!all && (it->first >= oldest || inflight_[it->first] > 0)) {
        ++it;
        continue;
      }
      if (cb_) cb_(it->second);
      inflight_.erase(it->first);
      it = stats_.erase(it);
    }
  }

 private:
  IterationStats& at(int64_t it) {
    auto [p, fresh] = stats_.try_emplace(it);
    if (fresh) p->second.iteration = it;
    return p->second;
  }
  const IterationCallback& cb_;
  std::map<int64_t, IterationStats> stats_;
  std::map<int64_t, int64_t> inflight_;
  std::vector<int64_t> newest_;  // per rollout rank: the newest iteration it asked for
};
}  // namespace

ServeStats reward_serve(MPI_Comm inter, Scorer& scorer, const IterationCallback& on_iteration) {
  int remote = 0;
  K1RL_MPI_CHECK(MPI_Comm_remote_size(inter, &remote));
  int active = remote;
  ServeStats stats;
  IterationBook book(on_iteration, remote);
  struct Origin {
    int source;
    uint64_t seq;
    int64_t iteration;
  };
  std::map<uint64_t, Origin> inflight;  // scorer ticket -> who asked
  struct Out {
    std::string buf;
    MPI_Request req = MPI_REQUEST_NULL;
  };
  std::list<Out> sends;
  int64_t runs0 = scorer.sandbox_runs(), runs_seen = runs0;
  while (active > 0 || !inflight.empty()) {
    bool progressed = false;
    int flag = 0;
    MPI_Status st;
    K1RL_MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, inter, &flag, &st));
    if (flag) {
      progressed = true;
      std::string msg = recv_bytes(inter, st);
      if (st.MPI_TAG == kTagRewardRequest) {
        uint64_t seq = 0;
        int64_t iteration = -1;
        std::vector<Answer> answers;
        decode_request(msg, &seq, &iteration, &answers);
        stats.requests++;
        stats.answers += static_cast<int64_t>(answers.size());
        book.request(st.MPI_SOURCE, iteration, answers.size());
        uint64_t ticket = scorer.submit(std::move(answers), iteration);
        inflight[ticket] = Origin{st.MPI_SOURCE, seq, iteration};
      } else if (st.MPI_TAG == kTagRewardStop) {
        --active;
        book.stop(st.MPI_SOURCE);
      } else {
        throw RuntimeFault(
            "reward service",
            strfmt("unexpected message tag %d from rollout rank %d", st.MPI_TAG, st.MPI_SOURCE),
            "rollout and reward must run the same k1rl");
      }
    }
    while (auto done = scorer.poll()) {
      progressed = true;
      auto it = inflight.find(done->first);
      if (it == inflight.end()) continue;  // not ours (a scorer shared with other callers)
      for (const auto& s : done->second) {
        stats.reward_sum += s.total;
        stats.correct_sum += s.correct;
        stats.reasons[s.reason]++;
      }
      int64_t runs = scorer.sandbox_runs();
      book.result(it->second.iteration, done->second, runs - runs_seen);
      runs_seen = runs;
      sends.push_back(Out{encode_result(it->second.seq, done->second)});
      Out& o = sends.back();
      K1RL_MPI_CHECK(MPI_Isend(o.buf.data(), checked_count(o.buf), MPI_CHAR, it->second.source,
                               kTagRewardResult, inter, &o.req));
      inflight.erase(it);
    }
    if (progressed) book.flush(false);
    for (auto it = sends.begin(); it != sends.end();) {
      int done = 0;
      K1RL_MPI_CHECK(MPI_Test(&it->req, &done, MPI_STATUS_IGNORE));
      it = done ? sends.erase(it) : std::next(it);
    }
    if (!progressed) scorer.wait_any(0.0005);
  }
  for (auto& o : sends) K1RL_MPI_CHECK(MPI_Wait(&o.req, MPI_STATUS_IGNORE));
  book.flush(true);
  stats.sandbox_runs = scorer.sandbox_runs() - runs0;
  return stats;
}

// ---------------------------------------------------------------------------------------------
struct RewardClient::Pending {
  std::string buf;
  MPI_Request req = MPI_REQUEST_NULL;
  size_t n = 0;
  bool have = false;
  std::vector<Score> scores;
};

RewardClient::RewardClient(MPI_Comm inter, int server) : inter_(inter), server_(server) {
  int remote = 0, me = 0;
  K1RL_MPI_CHECK(MPI_Comm_remote_size(inter, &remote));
  K1RL_MPI_CHECK(MPI_Comm_rank(inter, &me));
  if (remote < 1)
    throw ConfigError("no reward ranks", "the intercommunicator's remote group is empty",
                      "start k1rl-reward with the run (mpiexec ... : -n 1 k1rl-reward : ...)");
  if (server_ < 0) server_ = me % remote;
  if (server_ >= remote)
    throw ConfigError("reward rank " + std::to_string(server_) + " does not exist",
                      strfmt("there are %d reward ranks", remote), "pick a rank below that");
}

RewardClient::~RewardClient() {
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) return;
  for (auto& kv : pending_)
    if (kv.second->req != MPI_REQUEST_NULL) MPI_Wait(&kv.second->req, MPI_STATUS_IGNORE);
}

uint64_t RewardClient::submit(const std::vector<Answer>& answers, int64_t iteration) {
  if (stopped_)
    throw InputError("reward client", "submit after stop", "a bug in the caller: stop comes last");
  uint64_t seq = next_seq_++;
  auto p = std::make_unique<Pending>();
  p->buf = encode_request(seq, iteration, answers);
  p->n = answers.size();
  K1RL_MPI_CHECK(MPI_Isend(p->buf.data(), checked_count(p->buf), MPI_CHAR, server_,
                           kTagRewardRequest, inter_, &p->req));
  pending_[seq] = std::move(p);
  return seq;
}

std::vector<Score> RewardClient::wait(uint64_t ticket) {
  auto it = pending_.find(ticket);
  if (it == pending_.end())
    throw InputError("reward client ticket " + std::to_string(ticket), "unknown or already taken",
                     "a bug in the caller: wait for each ticket once");
  while (!it->second->have) {
    MPI_Status st;
    K1RL_MPI_CHECK(MPI_Probe(server_, kTagRewardResult, inter_, &st));
    std::string msg = recv_bytes(inter_, st);
    uint64_t seq = 0;
    std::vector<Score> scores;
    decode_result(msg, &seq, &scores);
    auto p = pending_.find(seq);
    if (p == pending_.end())
      throw RuntimeFault("reward client",
                         strfmt("a result for unknown request %llu", (unsigned long long)seq),
                         "rollout and reward must run the same k1rl");
    if (scores.size() != p->second->n)
      throw RuntimeFault("reward client",
                         strfmt("request %llu sent %zu answers, got %zu scores",
                                (unsigned long long)seq, p->second->n, scores.size()),
                         "rollout and reward must run the same k1rl");
    p->second->scores = std::move(scores);
    p->second->have = true;
  }
  K1RL_MPI_CHECK(MPI_Wait(&it->second->req, MPI_STATUS_IGNORE));
  std::vector<Score> out = std::move(it->second->scores);
  pending_.erase(it);
  return out;
}

void RewardClient::stop() {
  if (stopped_) return;
  for (auto& kv : pending_)
    if (kv.second->req != MPI_REQUEST_NULL)
      K1RL_MPI_CHECK(MPI_Wait(&kv.second->req, MPI_STATUS_IGNORE));
  int remote = 0;
  K1RL_MPI_CHECK(MPI_Comm_remote_size(inter_, &remote));
  for (int r = 0; r < remote; ++r)  // every reward rank counts every rollout rank out
    K1RL_MPI_CHECK(MPI_Send(nullptr, 0, MPI_CHAR, r, kTagRewardStop, inter_));
  stopped_ = true;
}

}  // namespace k1rl
