// The [engine] section: which backend runs kernels/ops.h and in what precision, resolved once
// at start-up (app_main calls engine_setup before the app's body). docs/engine.md, "The backend
// seam" and "bf16".
#include "kernels/ops.h"
#include "lib/model/model.h"

namespace k1rl::model {

const OptionTable<EngineConfig>& engine_options() {
  using E = EngineConfig;
  static const auto t =
      OptionTable<E>()
          .choice("engine.backend", &E::backend, {"cpu"},
                  "backend that owns the buffers and runs the ops (cuda: a later issue)")
          .choice("engine.precision", &E::precision, {"fp32", "bf16", "auto"},
                  "linear layers in fp32, or bf16 products with fp32 accumulation, master "
                  "weights, norms, softmax and loss (AMX/AVX512-BF16 via oneDNN); auto = bf16 "
                  "where the CPU has it, else fp32");
  return t;
}

void declare_engine_options(ConfigSpec& s) {
  engine_options().declare(s);
}

EngineConfig EngineConfig::from(const Config& cfg) {
  return engine_options().read(cfg);  // both keys were checked when cfg was read
}

ops::EngineInfo engine_setup(const Config& cfg) {
  const EngineConfig ec = EngineConfig::from(cfg);
  const std::string& want = ec.precision;
  const ops::PrecisionRequest req = want == "bf16"   ? ops::PrecisionRequest::bf16
                                    : want == "auto" ? ops::PrecisionRequest::auto_
                                                     : ops::PrecisionRequest::fp32;
  ops::EngineInfo info;
  if (!ops::engine_init(ops::Backend::cpu, req, &info))
    throw ConfigError("engine.precision = " + want + " is not possible here", info.note,
                      "set engine.precision = auto (bf16 where the CPU has it) or fp32");
  if (info.precision == ops::Precision::bf16)
    K1RL_LOG_INFO("engine: cpu backend, bf16 products with fp32 accumulation (oneDNN %s)",
                  info.bf16_isa.c_str());
  else if (req == ops::PrecisionRequest::auto_)
    K1RL_LOG_INFO("engine: cpu backend, fp32 (engine.precision = auto: %s)", info.note.c_str());
  return info;
}

}  // namespace k1rl::model
