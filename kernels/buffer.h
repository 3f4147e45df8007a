// k1rl kernels: the backend's memory. Every array an op reads or writes in bulk (parameters,
// gradients, optimizer state, activations, KV caches, packed weights) is allocated here, so the
// backend decides where it lives: host memory (64-byte aligned) for the CPU backend, device
// memory for a CUDA backend. The backend counts what each kind of buffer holds (memory_use),
// which the benchmarks and the memory tests read. docs/engine.md, "The backend seam".
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace k1rl::ops {

enum class Memory : int { params, grads, optimizer, activations, kv_cache, packed_weights };
constexpr int kMemoryKinds = 6;
const char* memory_name(Memory kind);  // "params", "grads", ...

// `bytes` (> 0) of the backend's memory, aligned to kMemoryAlign, uninitialised or (`zeroed`)
// all zero bytes; throws std::bad_alloc when there is none. memory_free takes back what
// memory_alloc gave, with the same kind and size. The CPU backend zeroes through calloc, which
// for a large block maps fresh pages and touches none: memory a caller never uses (a KV cache's
// positions past the answers' ends) then costs neither a fill nor a page fault.
constexpr size_t kMemoryAlign = 64;
void* memory_alloc(Memory kind, int64_t bytes, bool zeroed = false);
void memory_free(Memory kind, void* p, int64_t bytes);

// Bytes held now per kind (indexed by Memory), and the most held since the process started or
// the last memory_reset_peaks (each kind's own peak).
struct MemoryUse {
  int64_t now[kMemoryKinds] = {};
  int64_t peak[kMemoryKinds] = {};
};
MemoryUse memory_use();
void memory_reset_peaks();

// A growable array in the backend's memory, with std::vector's interface for what lib/model
// does with its buffers: resize (new elements zero), assign, reserve (keeps the contents),
// swap, clear. Not copyable. Memory comes zeroed from the backend and the buffer remembers from
// which index on it is still untouched zero (past everything it ever held), so growing into it
// with zeros writes nothing. Element access on the host (operator[], begin/end) is valid where
// the backend's memory is host memory (the CPU backend); device code takes data().
template <class T, Memory Kind>
class Buffer {
  static_assert(std::is_trivially_copyable_v<T>, "a backend buffer holds plain values");

 public:
  Buffer() = default;
  explicit Buffer(size_t n, T value = T()) { resize(n, value); }
  ~Buffer() { release(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      swap(o);
    }
    return *this;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  void reserve(size_t n) {
    if (n <= cap_) return;
    T* p = static_cast<T*>(memory_alloc(Kind, static_cast<int64_t>(n * sizeof(T)), true));
    if (size_) std::memcpy(p, data_, size_ * sizeof(T));
    const size_t keep = size_;
    release();
    data_ = p, cap_ = n, size_ = keep, zero_from_ = keep;
  }
  void resize(size_t n, T value = T()) {
    if (n > cap_) reserve(n);
    const bool zero = is_zero(value);
    const size_t fill_end = zero ? std::min(n, std::max(size_, zero_from_)) : n;
    for (size_t i = size_; i < fill_end; ++i) data_[i] = value;
    size_ = n;
    zero_from_ = std::max(zero_from_, n);
  }
  void assign(size_t n, T value) {
    size_ = 0;
    resize(n, value);
  }
  void clear() { size_ = 0; }
  void swap(Buffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
    std::swap(zero_from_, o.zero_from_);
  }

 private:
  static bool is_zero(const T& v) {
    const T z{};
    return std::memcmp(&v, &z, sizeof(T)) == 0;
  }
  void release() {
    if (data_) memory_free(Kind, data_, static_cast<int64_t>(cap_ * sizeof(T)));
    data_ = nullptr, size_ = 0, cap_ = 0, zero_from_ = 0;
  }
  T* data_ = nullptr;
  size_t size_ = 0, cap_ = 0;
  size_t zero_from_ = 0;  // [max(size_, zero_from_), cap_) is zero and was never handed out
};

}  // namespace k1rl::ops
