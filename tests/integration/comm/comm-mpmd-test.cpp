// lib/comm under an MPMD launch of this one binary as three apps (ctest: mpiexec -n 2 exe : -n 1
// exe : -n 1 exe; e2e: slurm/lib/het-mpiexec.sh in a heterogeneous job). Checks roles and sizes,
// that messages cross both intercommunicators, and that broadcast weights arrive bit-identical.
// Options before the gtest ones: --role=NAME (explicit role), --expect=R,W,T (rank counts).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "lib/comm/comm.h"

using namespace k1rl;

namespace {

std::optional<Role> g_role;
int g_expect[kRoleCount] = {-1, -1, -1};

Comm make_comm() {
  CommOptions opt;
  opt.role = g_role;
  return Comm::create(opt);
}

// Deterministic weights with the values a byte copy must keep: signed zero, denormals, infinities
// and a NaN with a payload, plus ordinary normals.
std::vector<float> weights(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(n);
  for (auto& x : w) x = normal(gen);
  const float specials[] = {-0.0f, std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::infinity(), -1e-40f, 3.4e38f};
  for (size_t i = 0; i < sizeof specials / sizeof specials[0] && i < n; ++i)
    w[i * 7 % n] = specials[i];
  if (n > 11) {
    uint32_t nan_bits = 0x7fc01234u;
    std::memcpy(&w[11], &nan_bits, sizeof nan_bits);
  }
  return w;
}

TEST(Comm, RolesAndSizes) {
  Comm c = make_comm();
  int world = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  EXPECT_EQ(c.world_size(), world);
  EXPECT_EQ(c.size_of(Role::rollout) + c.size_of(Role::reward) + c.size_of(Role::train), world);
  for (int r = 0; r < kRoleCount; ++r) {
    if (g_expect[r] >= 0) {
      EXPECT_EQ(c.size_of(static_cast<Role>(r)), g_expect[r]) << role_name(static_cast<Role>(r));
    }
  }
  if (!g_role) {
    int* appnum = nullptr;
    int flag = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_APPNUM, &appnum, &flag);
    if (flag) {
      EXPECT_EQ(c.role_source(), RoleSource::appnum);
      EXPECT_EQ(static_cast<int>(c.role()), *appnum);
    }
  } else {
    EXPECT_EQ(c.role_source(), RoleSource::explicit_role);
    EXPECT_EQ(c.role(), *g_role);
  }
  // The app communicator holds exactly the ranks of this role, ordered by world rank.
  int app_size = 0, app_rank = 0;
  MPI_Comm_size(c.app(), &app_size);
  MPI_Comm_rank(c.app(), &app_rank);
  EXPECT_EQ(app_size, c.app_size());
  EXPECT_EQ(app_rank, c.app_rank());
  std::vector<int> roles(static_cast<size_t>(app_size)), wranks(static_cast<size_t>(app_size));
  int mine = static_cast<int>(c.role()), me = c.world_rank();
  MPI_Allgather(&mine, 1, MPI_INT, roles.data(), 1, MPI_INT, c.app());
  MPI_Allgather(&me, 1, MPI_INT, wranks.data(), 1, MPI_INT, c.app());
  for (int i = 0; i < app_size; ++i) {
    EXPECT_EQ(roles[static_cast<size_t>(i)], mine);
    if (i > 0) {
      EXPECT_LT(wranks[static_cast<size_t>(i - 1)], wranks[static_cast<size_t>(i)]);
    }
  }
  EXPECT_EQ(wranks[0], c.leader_of(c.role()));
  // Who holds which intercommunicator.
  EXPECT_EQ(c.rollout_reward() != MPI_COMM_NULL, c.role() != Role::train);
  EXPECT_EQ(c.train_rollout() != MPI_COMM_NULL, c.role() != Role::reward);
}

int remote_size(MPI_Comm ic) {
  int flag = 0, n = -1;
  MPI_Comm_test_inter(ic, &flag);
  EXPECT_TRUE(flag);
  MPI_Comm_remote_size(ic, &n);
  return n;
}

// Every rollout rank asks reward rank (i mod W) and gets its number doubled back.
TEST(Comm, RolloutRewardMessages) {
  Comm c = make_comm();
  MPI_Comm ic = c.rollout_reward();
  if (c.role() == Role::train) return;
  int R = c.size_of(Role::rollout), W = c.size_of(Role::reward);
  if (c.role() == Role::rollout) {
    EXPECT_EQ(remote_size(ic), W);
    int ask = 1000 + c.app_rank(), answer = 0;
    MPI_Send(&ask, 1, MPI_INT, c.app_rank() % W, 1, ic);
    MPI_Recv(&answer, 1, MPI_INT, c.app_rank() % W, 2, ic, MPI_STATUS_IGNORE);
    EXPECT_EQ(answer, 2 * ask);
  } else {
    EXPECT_EQ(remote_size(ic), R);
    for (int i = c.app_rank(); i < R; i += W) {
      int v = 0;
      MPI_Status st;
      MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, 1, ic, &st);
      EXPECT_EQ(v, 1000 + st.MPI_SOURCE);
      v *= 2;
      MPI_Send(&v, 1, MPI_INT, st.MPI_SOURCE, 2, ic);
    }
  }
}

// Train rank 0 sends each rollout rank its own number; rollout ranks answer with their world rank.
TEST(Comm, TrainRolloutMessages) {
  Comm c = make_comm();
  MPI_Comm ic = c.train_rollout();
  if (c.role() == Role::reward) return;
  int R = c.size_of(Role::rollout);
  if (c.role() == Role::train) {
    EXPECT_EQ(remote_size(ic), R);
    if (c.app_rank() != 0) return;
    for (int j = 0; j < R; ++j) {
      int v = 7 + j, w = -1;
      MPI_Send(&v, 1, MPI_INT, j, 3, ic);
      MPI_Recv(&w, 1, MPI_INT, j, 4, ic, MPI_STATUS_IGNORE);
      EXPECT_GE(w, 0);
      EXPECT_NE(w, c.world_rank());
    }
  } else {
    EXPECT_EQ(remote_size(ic), c.size_of(Role::train));
    int v = 0, me = c.world_rank();
    MPI_Recv(&v, 1, MPI_INT, 0, 3, ic, MPI_STATUS_IGNORE);
    EXPECT_EQ(v, 7 + c.app_rank());
    MPI_Send(&me, 1, MPI_INT, 0, 4, ic);
  }
}

// Sizes around the piece boundaries: empty, one piece, several with a short last piece.
TEST(Comm, BroadcastWeightsBitIdentical) {
  Comm c = make_comm();
  struct Case {
    size_t n, chunk;
  } cases[] = {{0, 16}, {1, 16}, {4096, 4096}, {100003, 4096}, {100003, kBcastChunkFloats}};
  uint64_t seed = 17;
  for (const Case& k : cases) {
    std::vector<float> expect = weights(k.n, seed);
    const float sentinel = 12345.0f;
    std::vector<float> buf(k.n, sentinel);
    bool root = c.role() == Role::train && c.app_rank() == 0;
    if (root) buf = expect;
    broadcast_weights(c, buf.data(), k.n, k.chunk);
    if (c.role() == Role::rollout || root) {
      EXPECT_EQ(std::memcmp(buf.data(), expect.data(), k.n * sizeof(float)), 0)
          << "n " << k.n << " chunk " << k.chunk;
    } else {
      for (float x : buf) ASSERT_EQ(x, sentinel) << "a non-root rank's buffer was written";
    }
    ++seed;
  }
}

// The last rollout rank expects one float more: every train and rollout rank throws the same
// InputError, nobody hangs, and the next broadcast works again.
TEST(Comm, BroadcastSizeMismatchThrowsEverywhere) {
  Comm c = make_comm();
  size_t n = 1000;
  bool odd = c.role() == Role::rollout && c.app_rank() == c.app_size() - 1;
  std::vector<float> buf(n + 1, 1.0f);
  if (c.role() == Role::reward) {
    broadcast_weights(c, buf.data(), n, 64);  // not a participant: returns at once
    return;
  }
  try {
    broadcast_weights(c, buf.data(), odd ? n + 1 : n, 64);
    ADD_FAILURE() << "no error for a size mismatch";
  } catch (const InputError& e) {
    EXPECT_NE(e.line().find("train sends 1000 floats but rollout ranks expect 1000..1001"),
              std::string::npos)
        << e.line();
  }
  broadcast_weights(c, buf.data(), n, 64);
}

// Run by its own ctest entry without train ranks (mpiexec -n 2 exe : -n 1 exe).
TEST(CommMissingApp, ReportsMissingApp) {
  try {
    make_comm();
    ADD_FAILURE() << "no error without train ranks";
  } catch (const ConfigError& e) {
    std::string line = e.line();
    EXPECT_NE(
        line.find("no train ranks in MPI_COMM_WORLD (rollout 2, reward 1, train 0 (world 3))"),
        std::string::npos)
        << line;
    EXPECT_NE(line.find("mpiexec -n R k1rl-rollout : -n 1 k1rl-reward : -n T k1rl-train"),
              std::string::npos)
        << line;
  }
  // The same launch is fine for a run that needs only rollout and reward.
  CommOptions opt;
  opt.required = {Role::rollout, Role::reward};
  Comm c = Comm::create(opt);
  EXPECT_EQ(c.train_rollout(), MPI_COMM_NULL);
  EXPECT_EQ(c.rollout_reward() != MPI_COMM_NULL, true);
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--role=", 0) == 0) {
      g_role = role_from_name(a.substr(7));
    } else if (a.rfind("--expect=", 0) == 0) {
      std::sscanf(a.c_str() + 9, "%d,%d,%d", &g_expect[0], &g_expect[1], &g_expect[2]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  ::testing::InitGoogleTest(&n, rest.data());
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  set_process_identity("comm-test", rank, size);
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int rc = RUN_ALL_TESTS(), worst = 0;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) {
    int world = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    std::printf("comm-mpmd-test: %s on %d ranks\n", worst == 0 ? "PASS" : "FAIL", world);
  }
  MPI_Finalize();
  return worst;
}
