// k1rl-apptest: the smallest app on app_main. Prints run.seed; --fail=KIND throws that error.
#include <cstdio>

#include "lib/app/app.h"

int main(int argc, char** argv) {
  k1rl::AppInfo info{"apptest",
                     "test app for the app scaffold",
                     false,
                     {{"fail", "throw an error of this kind (input|internal|none)", "none", true}}};
  return k1rl::app_main(argc, argv, info, [](k1rl::AppContext& ctx) {
    const std::string& fail = ctx.flag("fail");
    if (fail == "input")
      throw k1rl::InputError("bad prompt 3", "unknown character", "fix the task file");
    if (fail == "internal") throw std::logic_error("boom");
    std::printf("seed=%lld\n", static_cast<long long>(ctx.cfg.get_int("run.seed")));
    return 0;
  });
}
