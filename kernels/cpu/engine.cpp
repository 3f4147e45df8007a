// The engine choice on the CPU backend: the precision of the linear layers (fp32, or bf16 where
// the CPU multiplies bf16 in hardware: AMX-BF16 or AVX512-BF16) and what oneDNN runs the bf16
// products on. engine_init resolves `engine.precision = fp32 | bf16 | auto` once at start-up.
#include <atomic>

#include "kernels/cpu/bf16-impl.h"

namespace k1rl::ops {
namespace {

std::atomic<int> g_precision{static_cast<int>(Precision::fp32)};

EngineInfo& info_slot() {
  static EngineInfo info;
  return info;
}

// The CPU's own bf16 instructions, whatever K1RL_ISA says.
bool bf16_in_cpu() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
}

}  // namespace

bool bf16_supported() {
  return bf16_in_cpu() && isa() == Isa::avx512;
}

bool engine_init(Backend backend, PrecisionRequest req, EngineInfo* out) {
  EngineInfo info;
  info.backend = backend;
  info.bf16_hardware = bf16_supported();
  bool ok = true;
  if (backend != Backend::cpu) {
    info.note = "this build has only the cpu backend";
    ok = false;
  } else if (req == PrecisionRequest::fp32) {
    info.precision = Precision::fp32;
  } else if (info.bf16_hardware) {
    info.precision = Precision::bf16;
    info.bf16_isa = cpu::bf16_probe_isa();
  } else {
    info.precision = Precision::fp32;
    info.note = bf16_in_cpu() ? "K1RL_ISA caps the kernels below AVX-512, which bf16 needs"
                              : "this CPU has neither AMX-BF16 nor AVX512-BF16";
    ok = req == PrecisionRequest::auto_;
  }
  if (ok) {
    info_slot() = info;
    set_precision(info.precision);
  }
  if (out) *out = info;
  return ok;
}

const EngineInfo& engine() {
  return info_slot();
}

Precision precision() {
  return static_cast<Precision>(g_precision.load(std::memory_order_relaxed));
}

void set_precision(Precision p) {
  if (p == Precision::bf16 && info_slot().bf16_isa.empty() && bf16_supported())
    info_slot().bf16_isa = cpu::bf16_probe_isa();
  g_precision.store(static_cast<int>(p), std::memory_order_relaxed);
}

}  // namespace k1rl::ops
