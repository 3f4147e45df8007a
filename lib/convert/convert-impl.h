// Internals of lib/convert shared by its .cpp files: number formats and the GGUF config reader.
#pragma once

#include <cstdint>

#include "lib/convert/convert.h"

namespace k1rl::convert {

float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);  // round to nearest even (NaN stays NaN)
ModelSpec spec_from_gguf(const GgufMeta& meta);
// Reads a whole file, throws IoError naming it.
std::string slurp(const std::string& path);
bool is_directory(const std::string& path);

}  // namespace k1rl::convert
