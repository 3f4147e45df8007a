// Weight broadcast train -> rollout over the intercommunicator: train app rank 0 is the root
// (MPI_ROOT), the other train ranks stand aside (MPI_PROC_NULL), every rollout rank receives.
// Pieces of at most `chunk` floats keep each MPI count an int for models over 2 GiB.
#include <algorithm>
#include <climits>
#include <limits>

#include "lib/comm/comm.h"

namespace k1rl {

std::vector<BcastPiece> bcast_pieces(size_t n, size_t chunk) {
  if (chunk == 0) throw InputError("weight broadcast", "piece size is 0", "use a positive chunk");
  chunk = std::min(chunk, static_cast<size_t>(INT_MAX));
  std::vector<BcastPiece> out;
  out.reserve(n / chunk + 1);
  for (size_t off = 0; off < n; off += chunk)
    out.push_back({off, static_cast<int>(std::min(chunk, n - off))});
  return out;
}

void broadcast_weights(const Comm& comm, float* data, size_t n, size_t chunk, CommTimes* times) {
  MPI_Comm ic = comm.train_rollout();
  if (ic == MPI_COMM_NULL) return;
  const double t0 = seconds_since_start();
  bool train = comm.role() == Role::train;
  int root = train ? (comm.app_rank() == 0 ? MPI_ROOT : MPI_PROC_NULL) : 0;

  // Agree on n before moving data, so that every rank reaches the same verdict and a mismatch
  // throws everywhere instead of leaving a rank waiting. Train ranks take their root's n; over the
  // intercommunicator each group then gets the other's largest n and largest (max - n), i.e. its
  // smallest n; train root passes the rollout range on to the rollout ranks.
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t my_n = n;
  if (train) K1RL_MPI_CHECK(MPI_Bcast(&my_n, 1, MPI_UINT64_T, 0, comm.app()));
  uint64_t mine[2] = {my_n, kMax - my_n}, theirs[2] = {0, 0};
  K1RL_MPI_CHECK(MPI_Allreduce(mine, theirs, 2, MPI_UINT64_T, MPI_MAX, ic));
  uint64_t train_n = train ? my_n : theirs[0];
  uint64_t range[2] = {kMax - theirs[1], theirs[0]};  // rollout lo, hi (valid on train ranks)
  K1RL_MPI_CHECK(MPI_Bcast(range, 2, MPI_UINT64_T, root, ic));
  if (range[0] != train_n || range[1] != train_n)
    throw InputError(
        "weight broadcast",
        strfmt("train sends %llu floats but rollout ranks expect %llu..%llu",
               static_cast<unsigned long long>(train_n), static_cast<unsigned long long>(range[0]),
               static_cast<unsigned long long>(range[1])),
        "train and rollout must build the same model (the [model] section)");

  for (const BcastPiece& p : bcast_pieces(n, chunk))
    K1RL_MPI_CHECK(MPI_Bcast(data + p.offset, p.count, MPI_FLOAT, root, ic));
  if (times) {
    times->seconds += seconds_since_start() - t0;
    times->bytes += static_cast<double>(n) * sizeof(float);
  }
}

void declare_comm_options(ConfigSpec& spec) {
  spec.add_int("comm.bcast_chunk_mib", 1024,
               "piece size of the train->rollout weight broadcast in MiB; each piece is one "
               "MPI_Bcast (of at most INT_MAX floats)",
               Check().ge(1).le(8191));
}

size_t bcast_chunk_floats(const Config& cfg) {
  const int64_t mib = cfg.get_int("comm.bcast_chunk_mib");  // 1..8191, checked when read
  return static_cast<size_t>(mib) * (1024 * 1024 / sizeof(float));
}

}  // namespace k1rl
