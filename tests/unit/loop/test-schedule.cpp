// StalenessSchedule: the order of announcements (iteration, policy, whether θ is sent) and
// training of the MPMD train role for run.staleness 0 and 1, with and without a stop request,
// driven the way run_train_role drives it.
#include <gtest/gtest.h>

#include "lib/loop/loop.h"

using namespace k1rl;
using loop::StalenessSchedule;

namespace {
struct Trace {
  std::vector<std::string> events;
  int64_t trained = 0;
  int stop_queries = 0;
};

// stop_from: the stop request is agreed from this query on (1-based; 0: never).
Trace drive(int64_t staleness, int64_t first, int64_t iterations, int stop_from) {
  Trace tr;
  StalenessSchedule plan(staleness, first, iterations);
  auto stop = [&] { return ++tr.stop_queries >= stop_from && stop_from > 0; };
  auto say = [&](const StalenessSchedule::Announce& a) {
    tr.events.push_back(strfmt("announce %lld with θ%lld%s", static_cast<long long>(a.iteration),
                               static_cast<long long>(a.policy), a.send_weights ? " +w" : ""));
  };
  for (int round = 0; round < 100; ++round) {
    if (auto a = plan.begin(stop)) say(*a);
    if (plan.ended()) {
      tr.events.push_back("stop");
      break;
    }
    if (plan.abandon(stop)) {
      tr.events.push_back(strfmt("abandon %lld", static_cast<long long>(plan.iteration())));
      break;
    }
    if (auto a = plan.ahead(stop)) say(*a);
    tr.events.push_back(strfmt("train %lld generated with θ%lld",
                               static_cast<long long>(plan.iteration()),
                               static_cast<long long>(plan.policy())));
    plan.next();
  }
  tr.trained = plan.trained();
  return tr;
}
using V = std::vector<std::string>;
}  // namespace

TEST(StalenessSchedule, ZeroTrainsEachIterationWithItsOwnPolicy) {
  Trace t = drive(0, 0, 3, 0);
  EXPECT_EQ(t.events, (V{"announce 0 with θ0 +w", "train 0 generated with θ0",
                         "announce 1 with θ1 +w", "train 1 generated with θ1",
                         "announce 2 with θ2 +w", "train 2 generated with θ2", "stop"}));
  EXPECT_EQ(t.trained, 3);
  EXPECT_EQ(t.stop_queries, 3);  // before each announcement, not after the last iteration
}

TEST(StalenessSchedule, OneRunsRolloutOneIterationAhead) {
  Trace t = drive(1, 0, 3, 0);
  EXPECT_EQ(t.events, (V{"announce 0 with θ0 +w", "announce 1 with θ0",  // θ0 already held
                         "train 0 generated with θ0", "announce 2 with θ1 +w",
                         "train 1 generated with θ0", "train 2 generated with θ1", "stop"}));
  EXPECT_EQ(t.trained, 3);
}

TEST(StalenessSchedule, ResumedJobNumbersFromItsFirstIteration) {
  Trace t = drive(0, 5, 2, 0);
  EXPECT_EQ(t.events, (V{"announce 5 with θ5 +w", "train 5 generated with θ5",
                         "announce 6 with θ6 +w", "train 6 generated with θ6", "stop"}));
  EXPECT_EQ(t.trained, 2);
  Trace none = drive(1, 5, 0, 0);
  EXPECT_EQ(none.events, V{"stop"});
  EXPECT_EQ(none.stop_queries, 0);
}

TEST(StalenessSchedule, StopFinishesTheIterationInFlight) {
  Trace t = drive(0, 0, 3, 2);  // agreed at the second query: before announcing 1
  EXPECT_EQ(t.events, (V{"announce 0 with θ0 +w", "train 0 generated with θ0", "stop"}));
  EXPECT_EQ(t.trained, 1);
}

TEST(StalenessSchedule, StopAbandonsTheIterationGeneratedAhead) {
  Trace t = drive(1, 0, 3, 3);  // agreed once rollout reported iteration 1 done
  EXPECT_EQ(t.events, (V{"announce 0 with θ0 +w", "announce 1 with θ0", "train 0 generated with θ0",
                         "abandon 1"}));
  EXPECT_EQ(t.trained, 1);
  Trace early = drive(1, 0, 3, 2);  // agreed before announcing 1 ahead: nothing is abandoned
  EXPECT_EQ(early.events, (V{"announce 0 with θ0 +w", "train 0 generated with θ0", "stop"}));
}

TEST(StalenessSchedule, OtherValuesRunAsZero) {
  EXPECT_EQ(drive(2, 0, 2, 0).events, drive(0, 0, 2, 0).events);
}
