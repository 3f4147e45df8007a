// A digest of a task set (FNV-1a, 64 bits, over every task's id, kind, prompt and answer), so that
// state kept per prompt index (sampler.h5) is never applied to another task file of the same size.
#include "lib/tasks/tasks.h"

namespace k1rl {

std::string tasks_digest(const std::vector<Task>& tasks) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL;  // a separator no UTF-8 text holds
  };
  for (const Task& t : tasks) {
    mix(t.id);
    mix(t.task);
    mix(t.prompt);
    mix(t.answer);
  }
  return strfmt("fnv1a64:%016llx", static_cast<unsigned long long>(h));
}

}  // namespace k1rl
