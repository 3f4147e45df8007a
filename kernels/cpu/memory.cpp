// The CPU backend's memory (kernels/buffer.h): host memory aligned to a cache line (and to
// an AVX-512 vector), counted per kind of buffer.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "kernels/buffer.h"

namespace k1rl::ops {
namespace {

std::atomic<int64_t> g_now[kMemoryKinds];
std::atomic<int64_t> g_peak[kMemoryKinds];

void raise_peak(int k, int64_t now) {
  int64_t p = g_peak[k].load(std::memory_order_relaxed);
  while (now > p && !g_peak[k].compare_exchange_weak(p, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

const char* memory_name(Memory kind) {
  static const char* const names[kMemoryKinds] = {"params",      "grads",    "optimizer",
                                                  "activations", "kv_cache", "packed_weights"};
  return names[static_cast<int>(kind)];
}

// malloc's block with the pointer moved up to the alignment and malloc's own pointer stored just
// below it. (aligned_alloc would do, but glibc's memalign splits a free chunk off each side of a
// large block; left in the heap between the loop's phases they fragmented it: the heap grew by
// 100-600 MB per RL iteration of SmolLM2.)
void* memory_alloc(Memory kind, int64_t bytes, bool zeroed) {
  const size_t n = static_cast<size_t>(bytes) + kMemoryAlign;
  void* raw = zeroed ? std::calloc(1, n) : std::malloc(n);
  if (!raw) throw std::bad_alloc();
  const uintptr_t a = (reinterpret_cast<uintptr_t>(raw) + kMemoryAlign) & ~(kMemoryAlign - 1);
  void* p = reinterpret_cast<void*>(a);
  static_cast<void**>(p)[-1] = raw;  // malloc aligns to 16, so at least 16 bytes lie below p
  const int k = static_cast<int>(kind);
  raise_peak(k, g_now[k].fetch_add(bytes, std::memory_order_relaxed) + bytes);
  return p;
}

void memory_free(Memory kind, void* p, int64_t bytes) {
  if (!p) return;
  std::free(static_cast<void**>(p)[-1]);
  g_now[static_cast<int>(kind)].fetch_sub(bytes, std::memory_order_relaxed);
}

MemoryUse memory_use() {
  MemoryUse u;
  for (int k = 0; k < kMemoryKinds; ++k) {
    u.now[k] = g_now[k].load(std::memory_order_relaxed);
    u.peak[k] = g_peak[k].load(std::memory_order_relaxed);
  }
  return u;
}

void memory_reset_peaks() {
  for (int k = 0; k < kMemoryKinds; ++k)
    g_peak[k].store(g_now[k].load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace k1rl::ops
