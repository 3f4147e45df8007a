// k1rl-bench-bcast: how rollout ranks get new weights. Times lib/comm's broadcast_weights
// (train app rank 0 -> every rollout rank over the intercommunicator) against the file path
// (train writes the checkpoint with model::save_checkpoint, rollout reads it with load_checkpoint)
// at shape M (124M floats) in the same run; verifies every copy; prints a table, the ratio and a
// final JSON line, with each phase's page faults and CPU time summed over the ranks.
// Usage: k1rl-bench-bcast [--shape S|M] [--reps N] [--dir DIR] [--quick] [--threads N]
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
#include "tools/bench/common/bench.h"
#include "tools/bench/shapes.h"

using namespace k1rl;

namespace {

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

// A phase's resource use summed over all ranks (on rank 0).
bench::Phase summed(const std::string& name, double wall, const bench::Usage& u) {
  double mine[4] = {u.user_s, u.sys_s, double(u.minflt), double(u.majflt)}, all[4] = {0, 0, 0, 0};
  MPI_Reduce(mine, all, 4, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  bench::Phase p;
  p.name = name, p.wall_s = wall;
  p.usage.user_s = all[0], p.usage.sys_s = all[1];
  p.usage.minflt = static_cast<int64_t>(all[2]), p.usage.majflt = static_cast<int64_t>(all[3]);
  return p;
}

bool under_mpi_launcher() {
  for (const char* v :
       {"PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Driver d("bcast", "weight broadcast train -> rollout against the checkpoint file path");
  std::string shape_name = "M", dir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  int reps = 3;
  d.options().add_options()("shape", bench::po::value(&shape_name)->default_value("M"),
                            "S|M (--quick: S)")("reps", bench::po::value(&reps)->default_value(3),
                                                "repetitions, best kept (--quick: 1)")(
      "dir", bench::po::value(&dir)->default_value(dir), "where the checkpoint goes");
  if (!d.parse(argc, argv)) return d.exit_code();
  if (d.quick() && !d.given("shape")) shape_name = "S";
  if (d.quick() && !d.given("reps")) reps = 1;
  reps = std::max(1, reps);
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
    model::Model m(bench::shape(shape_name.c_str()).cfg);
    const int64_t n = m.num_params();
    uint64_t want = 0;
    if (train) {
      m.init_params(1234);
      want = digest(m.params(), n);
    }
    MPI_Bcast(&want, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    const double gib = static_cast<double>(n) * 4 / (1 << 30);
    if (wr == 0)
      d.print_header(
          strfmt("shape %s, %lld floats (%.2f GiB), 1 train -> %d rollout rank(s), %d "
                 "reps, checkpoints in %s",
                 shape_name.c_str(), static_cast<long long>(n), gib, ws - 1, reps, dir.c_str()));
    int pid = getpid();  // train's, so every rank names the same file
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    std::fflush(stdout);
    const std::string path = dir + "/k1rl-bench-bcast-" + std::to_string(pid) + ".h5";
    double bcast = 1e30, write = 1e30, read = 1e30, file = 1e30;
    double wall[3] = {0, 0, 0};
    bench::Usage use[3];  // broadcast, save, load: this rank's
    bool ok = true;
    for (int r = 0; r < reps; ++r) {
      // Broadcast.
      if (!train) std::memset(m.params(), 0, static_cast<size_t>(n) * 4);
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      bench::Usage u0 = bench::usage_self();
      broadcast_weights(comm, m.params(), static_cast<size_t>(n));
      MPI_Barrier(MPI_COMM_WORLD);
      use[0] += bench::usage_self() - u0;
      wall[0] += MPI_Wtime() - t0;
      bcast = std::min(bcast, MPI_Wtime() - t0);
      ok = verified(comm, m, want) && ok;
      // File: train writes and publishes, then rollout reads.
      if (!train) std::memset(m.params(), 0, static_cast<size_t>(n) * 4);
      MPI_Barrier(MPI_COMM_WORLD);
      t0 = MPI_Wtime();
      u0 = bench::usage_self();
      if (train) model::save_checkpoint(path, m, nullptr, model::TrainState{});
      MPI_Barrier(MPI_COMM_WORLD);
      const double t1 = MPI_Wtime();
      const bench::Usage u1 = bench::usage_self();
      use[1] += u1 - u0;
      if (!train) model::load_checkpoint(path, m, nullptr);
      MPI_Barrier(MPI_COMM_WORLD);
      const double t2 = MPI_Wtime();
      use[2] += bench::usage_self() - u1;
      wall[1] += t1 - t0, wall[2] += t2 - t1;
      write = std::min(write, t1 - t0), read = std::min(read, t2 - t1),
      file = std::min(file, t2 - t0);
      ok = verified(comm, m, want) && ok;
      if (train) std::remove(path.c_str());
    }
    const char* names[3] = {"broadcast_weights", "save_checkpoint (train)",
                            "load_checkpoint (rollout)"};
    for (int k = 0; k < 3; ++k) {
      bench::Phase p = summed(names[k], wall[k], use[k]);
      if (wr == 0) d.record(p);
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
      d.json()
          .str("bench", "bcast")
          .str("shape", shape_name)
          .integer("floats", n)
          .integer("rollout_ranks", ws - 1)
          .num("bcast_s", bcast, 4)
          .num("write_s", write, 4)
          .num("read_s", read, 4)
          .num("file_s", file, 4)
          .num("ratio", ratio, 2)
          .boolean("verified", ok);
      d.finish();
    }
    rc = ok ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-bcast: error: %s\n", e.line().c_str());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Finalize();
  return rc;
}
