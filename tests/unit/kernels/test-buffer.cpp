// kernels/buffer.h: the backend's buffers behave as lib/model uses std::vector (new elements
// zero or the given value, reserve and growth keep the contents, swap and move exchange the
// memory), are aligned for the widest vector loads, and the backend's per-kind counts follow
// every allocation and free, with peaks.
#include <gtest/gtest.h>

#include <sys/resource.h>

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

// Growing into memory the buffer never used writes nothing, yet every element it hands out reads
// as zero, also after it held other values there (shrink, clear, swap).
TEST(BackendBuffer, NewElementsAreZeroWithoutWritingUntouchedMemory) {
  Buffer<float, Memory::kv_cache> b;
  b.resize(100);
  for (size_t i = 0; i < b.size(); ++i) b[i] = 3.f;
  b.resize(40);
  b.resize(200);  // 40..99 held 3s: zeroed again; 100..199 never held anything
  for (size_t i = 40; i < b.size(); ++i) ASSERT_EQ(b[i], 0.f) << i;
  for (size_t i = 0; i < b.size(); ++i) b[i] = -1.f;
  b.clear();
  b.resize(150);
  for (float x : b) ASSERT_EQ(x, 0.f);
  b.resize(180, 5.f);
  for (size_t i = 150; i < 180; ++i) ASSERT_EQ(b[i], 5.f) << i;
  b.resize(120);
  b.resize(190);
  for (size_t i = 120; i < 190; ++i) ASSERT_EQ(b[i], 0.f) << i;
  Buffer<float, Memory::kv_cache> c(10, 2.f);
  c.swap(b);  // c now holds b's memory and knows what of it is untouched
  c.resize(c.capacity());
  for (size_t i = 0; i < 120; ++i) ASSERT_EQ(c[i], 0.f) << i;
  for (size_t i = 190; i < c.size(); ++i) ASSERT_EQ(c[i], 0.f) << i;

  // 512 MiB sized and read back at its two ends only: a few page faults, not 131,072.
  rusage r0{}, r1{};
  getrusage(RUSAGE_SELF, &r0);
  Buffer<unsigned char, Memory::kv_cache> big;
  big.resize(size_t{512} << 20);
  EXPECT_EQ(big[0], 0);
  EXPECT_EQ(big[big.size() - 1], 0);
  getrusage(RUSAGE_SELF, &r1);
  EXPECT_LT(r1.ru_minflt - r0.ru_minflt, 1000);
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
