// k1rl-merge's slerp against the numpy reference (tests/reference/merge/slerp_reference.py):
// for t in {0, 0.3, 0.5, 1}, every tensor of the merged checkpoint matches, including the edge
// cases (parallel and zero tensors fall back to the linear mix), and the result loads.
#include <gtest/gtest.h>

#include <cmath>

#include "lib/io/io.h"
#include "lib/merge/merge.h"
#include "lib/model/model.h"

using namespace k1rl;

TEST(MergeReference, SlerpMatchesNumpy) {
  const std::string dir = K1RL_MERGE_FIXTURE;
  io::H5Reader want(dir + "/expected.h5", "fixture", 1);
  auto ts = io::read_dataset<double>(want.root(), "t");
  ASSERT_EQ(ts.size(), 4u);
  for (size_t i = 0; i < ts.size(); ++i) {
    merge::MergeSpec s;
    s.inputs = merge::parse_inputs(dir + "/a.h5," + dir + "/b.h5");
    s.method = merge::Method::slerp;
    s.t = ts[i];
    const std::string out = dir + strfmt("/slerp-%zu.h5", i);
    merge::MergeStats st = merge::merge_checkpoints(s, out);
    EXPECT_EQ(st.slerp_linear_tensors, 2) << "the parallel and the zero tensor";
    model::Model m(model::read_checkpoint_config(out));
    model::load_checkpoint(out, m, nullptr);  // a valid checkpoint of the model
    io::Hid g = io::open_group(want.root(), strfmt("t%zu", i));
    for (const auto& t : m.tensors()) {
      auto ref = io::read_dataset<double>(g, t.name);
      ASSERT_EQ(static_cast<int64_t>(ref.size()), t.size) << t.name;
      double err = 0, scale = 0;
      for (int64_t e = 0; e < t.size; ++e) {
        err = std::max(err, std::fabs(m.param(t.name)[e] - ref[static_cast<size_t>(e)]));
        scale = std::max(scale, std::fabs(ref[static_cast<size_t>(e)]));
      }
      EXPECT_LE(err, 1e-6 * scale + 1e-12) << t.name << " at t = " << ts[i];
    }
    std::printf("t = %.1f: every tensor within 1e-6 of numpy (relative to its largest value)\n",
                ts[i]);
  }
}
