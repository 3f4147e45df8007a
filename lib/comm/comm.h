// k1rl comm: the MPI layer between the apps of one run. Every app is a group of ranks in one
// MPI_COMM_WORLD (an MPMD mpiexec or a Slurm heterogeneous job, see docs/comm.md); this module
// gives each rank its role, its app's communicator, the intercommunicators to the other apps, and
// the weight broadcast from train to rollout.
#pragma once

#include <mpi.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/core.h"

namespace k1rl {

// The apps of a run, numbered by their place on the MPMD command line
//   mpiexec -n R k1rl-rollout : -n 1 k1rl-reward : -n T k1rl-train
// so that MPI_APPNUM is the role.
enum class Role : int { rollout = 0, reward = 1, train = 2 };
inline constexpr int kRoleCount = 3;
const char* role_name(Role r);                 // "rollout", "reward", "train"
Role role_from_name(const std::string& name);  // throws ConfigError naming the valid roles

// Where a rank's role came from, in the order they are tried.
enum class RoleSource { explicit_role, appnum, env };
const char* role_source_name(RoleSource s);  // "explicit", "MPI_APPNUM", "K1RL_ROLE"

// MPI_Intercomm_create tags, one per intercommunicator so that two creations never match.
inline constexpr int kTagRolloutReward = 6101;
inline constexpr int kTagTrainRollout = 6102;

struct CommOptions {
  // The role of this process when the app knows it (k1rl-train is train); empty: MPI_APPNUM, else
  // the K1RL_ROLE environment variable (rollout|reward|train), else a ConfigError.
  std::optional<Role> role;
  // Roles that must have at least one rank; a missing one is a ConfigError on every rank.
  std::vector<Role> required = {Role::rollout, Role::reward, Role::train};
};

// The communicators of one rank. Create is collective over MPI_COMM_WORLD: every rank of every app
// calls it once, after MPI_Init. Roles may be interleaved in world rank order; each app's rank 0
// is its lowest world rank. Communicators are freed by the destructor (while MPI is up).
class Comm {
 public:
  static Comm create(const CommOptions& opt = {});
  Comm() = default;
  Comm(Comm&& o) noexcept;
  Comm& operator=(Comm&& o) noexcept;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  ~Comm();

  Role role() const { return role_; }
  RoleSource role_source() const { return source_; }
  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  MPI_Comm app() const { return app_; }  // the ranks of this rank's app
  int app_rank() const { return app_rank_; }
  int app_size() const { return size_of(role_); }
  int size_of(Role r) const { return sizes_[static_cast<int>(r)]; }      // 0 when absent
  int leader_of(Role r) const { return leaders_[static_cast<int>(r)]; }  // world rank, -1 if absent
  // rollout <-> reward: on rollout and reward ranks (remote group: the other app), else
  // MPI_COMM_NULL; also MPI_COMM_NULL when either app has no ranks.
  MPI_Comm rollout_reward() const { return rollout_reward_; }
  // train -> rollout: on train and rollout ranks, else MPI_COMM_NULL.
  MPI_Comm train_rollout() const { return train_rollout_; }
  // "rollout 2, reward 1, train 1 (world 4)"
  std::string describe() const;

 private:
  void release();
  Role role_ = Role::rollout;
  RoleSource source_ = RoleSource::explicit_role;
  int world_rank_ = 0, world_size_ = 0, app_rank_ = 0;
  std::array<int, kRoleCount> sizes_{}, leaders_{-1, -1, -1};
  MPI_Comm app_ = MPI_COMM_NULL, rollout_reward_ = MPI_COMM_NULL, train_rollout_ = MPI_COMM_NULL;
};

// Default piece size of the weight broadcast: 2^28 floats (1 GiB), well under MPI's int count
// limit, so a model of any size goes in ceil(n / chunk) broadcasts.
inline constexpr size_t kBcastChunkFloats = size_t{1} << 28;

// Pieces [offset, offset + count) that cover n floats, each at most `chunk` long (chunk > 0).
struct BcastPiece {
  size_t offset;
  int count;
};
std::vector<BcastPiece> bcast_pieces(size_t n, size_t chunk);

// Seconds a rank spent in a collective and the payload bytes it moved (docs/metrics.md "Time
// split"); calls add to it, so one CommTimes can sum several.
struct CommTimes {
  double seconds = 0;
  double bytes = 0;
};

// Broadcast a flat float buffer of n values from train app rank 0 to every rollout rank over the
// train->rollout intercommunicator. Collective over all train and rollout ranks (other ranks
// return at once). On train ranks other than 0 the buffer is not touched. Every rank first checks
// that all agree on n: a mismatch throws InputError on every participating rank, naming both sizes.
// `times` (optional) gets the seconds spent here and 4 n bytes (the weights each rollout rank
// gets).
void broadcast_weights(const Comm& comm, float* data, size_t n, size_t chunk = kBcastChunkFloats,
                       CommTimes* times = nullptr);

// [comm] section: comm.bcast_chunk_mib.
void declare_comm_options(ConfigSpec& spec);
// comm.bcast_chunk_mib as a float count for broadcast_weights.
size_t bcast_chunk_floats(const Config& cfg);

}  // namespace k1rl
