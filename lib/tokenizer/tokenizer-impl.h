// Internals of lib/tokenizer shared by its .cpp files: Unicode range tables, the GPT-2 style
// pre-tokenizers and GPT-2's byte <-> unicode alphabet. Not for use outside lib/tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/json/json.h"
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

// The class of a code point for the pre-tokenizer regexes.
enum CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };
CharClass char_class(uint32_t cp);

// Splits text into pre-tokens (views into `text`) with the regex of `pre` (gpt2, smollm, qwen2,
// llama3; see tokenizer-pretokenize.cpp), matched by hand. Invalid UTF-8 bytes count as U+FFFD
// (a symbol), one byte each. Throws ConfigError for another name.
void pretokenize(std::string_view text, const std::string& pre, std::vector<std::string_view>& out);

// GPT-2's reversible map of the 256 bytes to printable code points ("Ġ" = U+0120 is ' ').
uint32_t byte_to_unicode(uint8_t b);
int unicode_to_byte(uint32_t cp);  // -1 when the code point is not in the alphabet

}  // namespace k1rl
