// The [engine] section: which backend runs kernels/ops.h and in what precision, resolved once
// at start-up (app_main calls engine_setup before the app's body). docs/engine.md, "The backend
// seam" and "bf16".
#include <mutex>

#include "kernels/ops.h"
#include "lib/model/model.h"

namespace k1rl::model {
namespace {

// engine_setup's log line, written when the first model is built (log_engine_choice): a run
// that fails on its input before any model exists prints its one-line error alone.
std::mutex g_line_mutex;
std::string g_line;

}  // namespace

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
  std::string line;
  if (info.precision == ops::Precision::bf16)
    line =
        "engine: cpu backend, bf16 products with fp32 accumulation (oneDNN " + info.bf16_isa + ")";
  else if (req == ops::PrecisionRequest::auto_)
    line = "engine: cpu backend, fp32 (engine.precision = auto: " + info.note + ")";
  std::lock_guard<std::mutex> lock(g_line_mutex);
  g_line = line;
  return info;
}

void log_engine_choice() {
  std::lock_guard<std::mutex> lock(g_line_mutex);
  if (g_line.empty()) return;
  K1RL_LOG_INFO("%s", g_line.c_str());
  g_line.clear();
}

}  // namespace k1rl::model
