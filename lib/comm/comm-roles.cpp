// Roles and communicators: who each rank is (explicit role, MPI_APPNUM or K1RL_ROLE), its app's
// communicator (MPI_Comm_split by role) and the intercommunicators rollout<->reward and
// train->rollout (MPI_Intercomm_create over MPI_COMM_WORLD with distinct tags).
#include <cstdlib>
#include <utility>

#include "lib/comm/comm.h"

namespace k1rl {

namespace {

constexpr const char* kLaunchHint =
    "launch every app as one MPMD job: mpiexec -n R k1rl-rollout : -n 1 k1rl-reward : -n T "
    "k1rl-train (or slurm/lib/het-mpiexec.sh in a heterogeneous Slurm job); see docs/comm.md";

// What one rank found out about itself, shared with all others so that every rank reaches the
// same verdict (a failure on one rank alone would leave the others waiting in a collective).
enum : int { kNoRole = -1, kBadAppnum = -2, kBadEnv = -3 };

int local_role_code(const CommOptions& opt, RoleSource& source, int& appnum_seen) {
  if (opt.role) {
    source = RoleSource::explicit_role;
    return static_cast<int>(*opt.role);
  }
  int* appnum = nullptr;
  int flag = 0;
  K1RL_MPI_CHECK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_APPNUM, &appnum, &flag));
  if (flag && appnum && *appnum >= 0) {
    source = RoleSource::appnum;
    appnum_seen = *appnum;
    return *appnum < kRoleCount ? *appnum : kBadAppnum;
  }
  if (const char* env = std::getenv("K1RL_ROLE"); env && *env) {
    source = RoleSource::env;
    try {
      return static_cast<int>(role_from_name(env));
    } catch (const ConfigError&) {
      return kBadEnv;
    }
  }
  return kNoRole;
}

std::string count_line(const std::array<int, kRoleCount>& sizes, int world) {
  return strfmt("rollout %d, reward %d, train %d (world %d)", sizes[0], sizes[1], sizes[2], world);
}

[[noreturn]] void role_failure(int code, int rank) {
  if (code == kBadAppnum)
    throw ConfigError("comm",
                      strfmt("world rank %d has MPI_APPNUM >= %d; k1rl runs at most %d apps "
                             "(rollout, reward, train)",
                             rank, kRoleCount, kRoleCount),
                      kLaunchHint);
  if (code == kBadEnv)
    throw ConfigError("comm",
                      strfmt("world rank %d: K1RL_ROLE is not one of rollout, reward, train", rank),
                      "set K1RL_ROLE=rollout|reward|train or launch as MPMD");
  throw ConfigError("comm",
                    strfmt("world rank %d has no role: no explicit role, no MPI_APPNUM "
                           "(not an MPMD launch) and no K1RL_ROLE",
                           rank),
                    kLaunchHint);
}

MPI_Comm make_intercomm(MPI_Comm app, int remote_leader, int tag) {
  MPI_Comm inter = MPI_COMM_NULL;
  K1RL_MPI_CHECK(MPI_Intercomm_create(app, 0, MPI_COMM_WORLD, remote_leader, tag, &inter));
  return inter;
}

bool mpi_alive() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

}  // namespace

const char* role_name(Role r) {
  switch (r) {
    case Role::rollout:
      return "rollout";
    case Role::reward:
      return "reward";
    case Role::train:
      return "train";
  }
  return "?";
}

Role role_from_name(const std::string& name) {
  for (int i = 0; i < kRoleCount; ++i)
    if (name == role_name(static_cast<Role>(i))) return static_cast<Role>(i);
  throw ConfigError("role '" + name + "'", "not a k1rl role", "use rollout, reward or train");
}

const char* role_source_name(RoleSource s) {
  switch (s) {
    case RoleSource::explicit_role:
      return "explicit";
    case RoleSource::appnum:
      return "MPI_APPNUM";
    case RoleSource::env:
      return "K1RL_ROLE";
  }
  return "?";
}

Comm Comm::create(const CommOptions& opt) {
  if (!mpi_alive())
    throw RuntimeFault("comm", "MPI is not initialised",
                       "call Comm::create between MPI_Init and "
                       "MPI_Finalize (AppInfo::use_mpi = true)");
  Comm c;
  K1RL_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &c.world_rank_));
  K1RL_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &c.world_size_));
  int appnum = -1;
  int mine = local_role_code(opt, c.source_, appnum);
  std::vector<int> all(static_cast<size_t>(c.world_size_));
  K1RL_MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, all.data(), 1, MPI_INT, MPI_COMM_WORLD));
  for (int r = 0; r < c.world_size_; ++r)
    if (all[static_cast<size_t>(r)] < 0) role_failure(all[static_cast<size_t>(r)], r);

  for (int r = c.world_size_ - 1; r >= 0; --r) {
    int role = all[static_cast<size_t>(r)];
    c.sizes_[static_cast<size_t>(role)]++;
    c.leaders_[static_cast<size_t>(role)] = r;  // the lowest world rank wins
  }
  for (Role need : opt.required) {
    if (c.size_of(need) == 0)
      throw ConfigError("comm",
                        strfmt("no %s ranks in MPI_COMM_WORLD (%s)", role_name(need),
                               count_line(c.sizes_, c.world_size_).c_str()),
                        kLaunchHint);
  }
  c.role_ = static_cast<Role>(mine);

  K1RL_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, mine, c.world_rank_, &c.app_));
  K1RL_MPI_CHECK(MPI_Comm_rank(c.app_, &c.app_rank_));
  // Rollout creates rollout<->reward before train->rollout; reward never waits on train, so the
  // order cannot deadlock.
  bool have_rr = c.size_of(Role::rollout) > 0 && c.size_of(Role::reward) > 0;
  bool have_tr = c.size_of(Role::train) > 0 && c.size_of(Role::rollout) > 0;
  if (have_rr && c.role_ == Role::rollout)
    c.rollout_reward_ = make_intercomm(c.app_, c.leader_of(Role::reward), kTagRolloutReward);
  if (have_rr && c.role_ == Role::reward)
    c.rollout_reward_ = make_intercomm(c.app_, c.leader_of(Role::rollout), kTagRolloutReward);
  if (have_tr && c.role_ == Role::rollout)
    c.train_rollout_ = make_intercomm(c.app_, c.leader_of(Role::train), kTagTrainRollout);
  if (have_tr && c.role_ == Role::train)
    c.train_rollout_ = make_intercomm(c.app_, c.leader_of(Role::rollout), kTagTrainRollout);

  // Log lines carry the rank within the app, so each app's rank 0 reports (errors keep the host).
  set_process_identity(process_app(), c.app_rank_, c.app_size());
  if (c.world_rank_ == 0)
    K1RL_LOG_INFO("comm: %s, roles from %s", c.describe().c_str(), role_source_name(c.source_));
  return c;
}

std::string Comm::describe() const {
  return count_line(sizes_, world_size_);
}

Comm::Comm(Comm&& o) noexcept {
  *this = std::move(o);
}

Comm& Comm::operator=(Comm&& o) noexcept {
  if (this == &o) return *this;
  release();
  role_ = o.role_;
  source_ = o.source_;
  world_rank_ = o.world_rank_;
  world_size_ = o.world_size_;
  app_rank_ = o.app_rank_;
  sizes_ = o.sizes_;
  leaders_ = o.leaders_;
  app_ = std::exchange(o.app_, MPI_COMM_NULL);
  rollout_reward_ = std::exchange(o.rollout_reward_, MPI_COMM_NULL);
  train_rollout_ = std::exchange(o.train_rollout_, MPI_COMM_NULL);
  return *this;
}

Comm::~Comm() {
  release();
}

void Comm::release() {
  if (!mpi_alive()) return;
  for (MPI_Comm* c : {&train_rollout_, &rollout_reward_, &app_})
    if (*c != MPI_COMM_NULL) MPI_Comm_free(c);
}

}  // namespace k1rl
