// The process's allocator policy (docs/engine.md, "Memory"): freed memory stays mapped and is
// reused, so that the RL loop's phases, which free their buffers for each other (rollout: packed
// weights and KV cache; train: activations), do not fault in fresh pages every iteration.
#include <malloc.h>

#include <cstdlib>

#include "lib/core/core.h"

namespace k1rl {

void keep_freed_memory_mapped() {
  // glibc serves large blocks with mmap and unmaps them on free; a returned page costs a fault
  // (and zeroing) when it is used again. From the heap instead, never trimmed. A user's own
  // MALLOC_MMAP_MAX_ / MALLOC_TRIM_THRESHOLD_ stands.
  if (!std::getenv("MALLOC_MMAP_MAX_")) mallopt(M_MMAP_MAX, 0);
  if (!std::getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, -1);
}

}  // namespace k1rl
