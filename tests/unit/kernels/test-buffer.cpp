// kernels/buffer.h: the backend's buffers behave as lib/model uses std::vector (new elements
// zero or the given value, reserve and growth keep the contents, swap and move exchange the
// memory), are aligned for the widest vector loads, and the backend's per-kind counts follow
// every allocation and free, with peaks.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

#include "kernels/buffer.h"

namespace k1rl::ops {
namespace {

int64_t held(Memory k) {
  return memory_use().now[static_cast<int>(k)];
}

TEST(BackendBuffer, GrowsLikeAVectorAndIsAligned) {
  Buffer<float, Memory::activations> b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.data(), nullptr);
  b.resize(5);
  for (float x : b) EXPECT_EQ(x, 0.f);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i + 1);
  b.resize(1000, 7.f);  // grows: the first five stay, the new ones are 7
  ASSERT_EQ(b.size(), 1000u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kMemoryAlign, 0u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(b[i], static_cast<float>(i + 1));
  for (size_t i = 5; i < b.size(); ++i) ASSERT_EQ(b[i], 7.f) << i;
  const float* p = b.data();
  b.resize(10);  // shrinking keeps the memory
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.capacity(), 1000u);
  b.reserve(4000);  // moves, keeping the ten
  EXPECT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), 10u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(b[i], static_cast<float>(i + 1));
  b.assign(3, -2.f);
  EXPECT_EQ(b.size(), 3u);
  for (float x : b) EXPECT_EQ(x, -2.f);
  Buffer<float, Memory::activations> c(4, 1.5f);
  const float *pb = b.data(), *pc = c.data();
  b.swap(c);
  EXPECT_EQ(b.data(), pc);
  EXPECT_EQ(c.data(), pb);
  EXPECT_EQ(b.size(), 4u);
  Buffer<float, Memory::activations> d(std::move(b));
  EXPECT_EQ(d.data(), pc);
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(d[3], 1.5f);
}

TEST(BackendBuffer, TheBackendCountsEachKindAndItsPeak) {
  const int64_t kv0 = held(Memory::kv_cache), opt0 = held(Memory::optimizer);
  memory_reset_peaks();
  {
    Buffer<unsigned char, Memory::kv_cache> kv(1000);
    EXPECT_EQ(held(Memory::kv_cache) - kv0, 1000);
    EXPECT_EQ(held(Memory::optimizer), opt0);
    kv.reserve(3000);  // the old block is freed once the new one holds the contents
    EXPECT_EQ(held(Memory::kv_cache) - kv0, 3000);
    EXPECT_EQ(memory_use().peak[static_cast<int>(Memory::kv_cache)] - kv0, 4000);
    Buffer<float, Memory::optimizer> m(250);
    EXPECT_EQ(held(Memory::optimizer) - opt0, 1000);
    Buffer<float, Memory::optimizer> moved = std::move(m);
    EXPECT_EQ(held(Memory::optimizer) - opt0, 1000);
  }
  EXPECT_EQ(held(Memory::kv_cache), kv0);
  EXPECT_EQ(held(Memory::optimizer), opt0);
  memory_reset_peaks();
  EXPECT_EQ(memory_use().peak[static_cast<int>(Memory::kv_cache)], kv0);
  EXPECT_STREQ(memory_name(Memory::packed_weights), "packed_weights");
}

}  // namespace
}  // namespace k1rl::ops
