// Errors: the one-line form apps print, and foreign-call checks naming the call and location.
#include <gtest/gtest.h>

#include "lib/core/core.h"

using namespace k1rl;

TEST(Errors, LineHasWhatWhyAndHint) {
  IoError e("cannot open 'x.h5'", "truncated", "restore it");
  EXPECT_EQ(e.line(), "cannot open 'x.h5': truncated; restore it");
  EXPECT_EQ(InputError("a", "b").line(), "a: b");
}

TEST(Errors, ForeignCallCheckNamesCallAndPlace) {
  try {
    foreign_call_failed("MPI", "MPI_Send(x)", "bad rank", "/a/b/comm.cpp", 12);
    FAIL();
  } catch (const RuntimeFault& e) {
    EXPECT_NE(e.line().find("MPI_Send(x)"), std::string::npos);
    EXPECT_NE(e.line().find("comm.cpp:12"), std::string::npos);
    EXPECT_NE(e.line().find("bad rank"), std::string::npos);
  }
}

TEST(Errors, Strfmt) {
  EXPECT_EQ(strfmt("%d-%s", 3, "x"), "3-x");
}
