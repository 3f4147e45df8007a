// Internals of lib/tokenizer shared by its .cpp files: Unicode range tables, the GPT-2 style
// pre-tokenizers and GPT-2's byte <-> unicode alphabet. Not for use outside lib/tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/tokenizer/tokenizer.h"

namespace k1rl {

struct CodeRange {
  uint32_t first, last;
};
namespace unicode_tables {
extern const CodeRange kLetter[];
extern const size_t kLetterCount;
extern const CodeRange kNumber[];
extern const size_t kNumberCount;
extern const CodeRange kSpace[];
extern const size_t kSpaceCount;
}  // namespace unicode_tables

// Splits text into pre-tokens (views into `text`) with the GPT-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// matched by hand. Invalid UTF-8 bytes count as U+FFFD (a symbol), as one byte each.
void pretokenize_gpt2(std::string_view text, std::vector<std::string_view>& out);
// "smollm": every \p{N} character alone first (HF Digits(individual_digits)), then GPT-2.
void pretokenize_smollm(std::string_view text, std::vector<std::string_view>& out);

// GPT-2's reversible map of the 256 bytes to printable code points ("Ġ" = U+0120 is ' ').
uint32_t byte_to_unicode(uint8_t b);
int unicode_to_byte(uint32_t cp);  // -1 when the code point is not in the alphabet

}  // namespace k1rl
