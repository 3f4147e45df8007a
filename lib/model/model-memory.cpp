// Memory for lib/model's large arrays (parameters, gradients, activations, KV cache, packed
// weights): whole 2 MiB-aligned mappings with transparent huge pages asked for, so that a buffer
// of hundreds of megabytes costs a few hundred page faults instead of a hundred thousand, and is
// returned to the system when freed. Small arrays go to the ordinary heap.
#include <sys/mman.h>

#include <cstdint>
#include <new>

#include "lib/model/model.h"

namespace k1rl::model::detail {

namespace {
constexpr size_t kHuge = size_t(1) << 21;  // 2 MiB, the x86-64 huge page
constexpr size_t kMapAbove = size_t(1) << 20;

size_t mapped_size(size_t bytes) {
  return (bytes + kHuge - 1) / kHuge * kHuge;
}
}  // namespace

void* page_alloc(size_t bytes) {
  if (bytes < kMapAbove) return ::operator new(bytes);
  const size_t len = mapped_size(bytes);
  // Over-map by one huge page and trim, so the buffer starts on a huge-page boundary.
  void* raw =
      mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t a = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t p = (a + kHuge - 1) / kHuge * kHuge;
  if (p > a) munmap(raw, p - a);
  if (a + kHuge > p) munmap(reinterpret_cast<void*>(p + len), a + kHuge - p);
  madvise(reinterpret_cast<void*>(p), len, MADV_HUGEPAGE);  // advice: failure is harmless
  return reinterpret_cast<void*>(p);
}

void page_free(void* p, size_t bytes) noexcept {
  if (!p) return;
  if (bytes < kMapAbove)
    ::operator delete(p);
  else
    munmap(p, mapped_size(bytes));
}

}  // namespace k1rl::model::detail
