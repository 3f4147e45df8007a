// k1rl-bench-bcast: how rollout ranks get new weights. Times lib/comm's broadcast_weights
// (train app rank 0 -> every rollout rank over the intercommunicator) against the file path
// (train writes the checkpoint with model::save_checkpoint, rollout reads it with load_checkpoint)
// at shape M (124M floats) in the same run; verifies every copy; prints a table, the ratio and a
// final JSON line. Usage: k1rl-bench-bcast [--shape S|M] [--reps N] [--dir DIR]
// (started alone it relaunches itself as `mpiexec -n 2`: world rank 0 trains, the others roll out).
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lib/comm/comm.h"
#include "lib/model/model.h"

using namespace k1rl;

namespace {

model::ModelConfig shape(const std::string& s) {
  model::ModelConfig c;
  if (s == "S") {  // DESIGN.md reference shapes
    c.layers = 4, c.dim = 256, c.heads = 8, c.kv_heads = 8, c.ffn_dim = 688, c.vocab = 512,
    c.max_seq = 256;
  } else {
    c.layers = 12, c.dim = 768, c.heads = 12, c.kv_heads = 12, c.ffn_dim = 2048, c.vocab = 50257,
    c.max_seq = 256;
  }
  c.tie_embeddings = true;
  return c;
}

// Order-sensitive 64-bit digest of the parameters (bit patterns, so -0 and NaN payloads count).
uint64_t digest(const float* p, int64_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, p + i, 4);
    h = (h ^ b) * 0x100000001b3ULL + static_cast<uint64_t>(i);
  }
  return h;
}

// Every rank learns whether every rollout copy matches train's digest.
bool verified(const Comm& comm, const model::Model& m, uint64_t want) {
  int ok = comm.role() == Role::train ? 1 : (digest(m.params(), m.num_params()) == want ? 1 : 0),
      all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

bool under_mpi_launcher() {
  for (const char* v :
       {"PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shape_name = "M", dir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--shape" && i + 1 < argc)
      shape_name = argv[++i];
    else if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: k1rl-bench-bcast [--shape S|M] [--reps N] [--dir DIR]\n");
      return 64;
    }
  }
  if (!under_mpi_launcher()) {  // relaunch: one train and one rollout rank
    std::vector<char*> args;
    const char* mpiexec = std::getenv("K1RL_MPIEXEC") ? std::getenv("K1RL_MPIEXEC") : "mpiexec";
    std::string n = "-n", two = "2";
    args.push_back(const_cast<char*>(mpiexec));
    args.push_back(n.data());
    args.push_back(two.data());
    for (int i = 0; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    execvp(mpiexec, args.data());
    std::fprintf(stderr,
                 "k1rl-bench-bcast: error: cannot start %s: %s; run it as mpiexec -n 2 %s\n",
                 mpiexec, std::strerror(errno), argv[0]);
    return 2;
  }
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int wr = 0, ws = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &wr);
  MPI_Comm_size(MPI_COMM_WORLD, &ws);
  if (ws < 2) {
    if (wr == 0)
      std::fprintf(stderr, "k1rl-bench-bcast: error: needs 2+ ranks (1 train, the rest rollout)\n");
    MPI_Finalize();
    return 64;
  }
  int rc = 0;
  try {
    CommOptions opt;
    opt.role = wr == 0 ? Role::train : Role::rollout;
    opt.required = {Role::train, Role::rollout};
    set_process_identity("bench-bcast", wr, ws);
    Comm comm = Comm::create(opt);
    const bool train = comm.role() == Role::train;
    model::Model m(shape(shape_name));
    const int64_t n = m.num_params();
    uint64_t want = 0;
    if (train) {
      m.init_params(1234);
      want = digest(m.params(), n);
    }
    MPI_Bcast(&want, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    const double gib = static_cast<double>(n) * 4 / (1 << 30);
    if (wr == 0)
      std::printf(
          "k1rl-bench-bcast: shape %s, %lld floats (%.2f GiB), 1 train -> %d rollout rank(s), %d "
          "reps, "
          "checkpoints in %s\n",
          shape_name.c_str(), static_cast<long long>(n), gib, ws - 1, reps, dir.c_str());
    int pid = getpid();  // train's, so every rank names the same file
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    std::fflush(stdout);
    const std::string path = dir + "/k1rl-bench-bcast-" + std::to_string(pid) + ".h5";
    double bcast = 1e30, write = 1e30, read = 1e30, file = 1e30;
    bool ok = true;
    for (int r = 0; r < reps; ++r) {
      // Broadcast.
      if (!train) std::memset(m.params(), 0, static_cast<size_t>(n) * 4);
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      broadcast_weights(comm, m.params(), static_cast<size_t>(n));
      MPI_Barrier(MPI_COMM_WORLD);
      bcast = std::min(bcast, MPI_Wtime() - t0);
      ok = verified(comm, m, want) && ok;
      // File: train writes and publishes, then rollout reads.
      if (!train) std::memset(m.params(), 0, static_cast<size_t>(n) * 4);
      MPI_Barrier(MPI_COMM_WORLD);
      t0 = MPI_Wtime();
      if (train) model::save_checkpoint(path, m, nullptr, model::TrainState{});
      MPI_Barrier(MPI_COMM_WORLD);
      const double t1 = MPI_Wtime();
      if (!train) model::load_checkpoint(path, m, nullptr);
      MPI_Barrier(MPI_COMM_WORLD);
      const double t2 = MPI_Wtime();
      write = std::min(write, t1 - t0), read = std::min(read, t2 - t1),
      file = std::min(file, t2 - t0);
      ok = verified(comm, m, want) && ok;
      if (train) std::remove(path.c_str());
    }
    if (wr == 0) {
      const double gb = static_cast<double>(n) * 4 / 1e9, ratio = file / bcast;
      std::printf("%-28s %10s %10s\n", "path (best of reps)", "seconds", "GB/s");
      std::printf("%-28s %10.3f %10.2f\n", "broadcast_weights", bcast, gb / bcast);
      std::printf("%-28s %10.3f %10.2f\n", "save_checkpoint (train)", write, gb / write);
      std::printf("%-28s %10.3f %10.2f\n", "load_checkpoint (rollout)", read, gb / read);
      std::printf("%-28s %10.3f %10.2f\n", "file path (write + read)", file, gb / file);
      std::printf("file path / broadcast: %.1fx (target >= 5x); every copy %s\n", ratio,
                  ok ? "verified" : "WRONG");
      std::printf(
          "{\"bench\":\"bcast\",\"shape\":\"%s\",\"floats\":%lld,\"rollout_ranks\":%d,\"bcast_s\":%"
          ".4f,"
          "\"write_s\":%.4f,\"read_s\":%.4f,\"file_s\":%.4f,\"ratio\":%.2f,\"verified\":%s}\n",
          shape_name.c_str(), static_cast<long long>(n), ws - 1, bcast, write, read, file, ratio,
          ok ? "true" : "false");
    }
    rc = ok ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-bcast: error: %s\n", e.line().c_str());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Finalize();
  return rc;
}
