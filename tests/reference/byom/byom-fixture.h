// Shared by the BYOM reference tests: where the Python-made fixtures are ($K1RL_BYOM_FIXTURES)
// and how their ragged arrays (flat data + "<name>_offsets") are read back.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "lib/io/io.h"

namespace k1rl::byom_test {

// The fixture folder, or "" when the set-up did not run (tests then skip).
inline std::string fixtures() {
  const char* d = std::getenv("K1RL_BYOM_FIXTURES");
  return d ? d : "";
}
inline std::string fixture(const std::string& name) {
  return fixtures().empty() ? "" : fixtures() + "/" + name;
}

template <class T>
std::vector<std::vector<T>> ragged(hid_t f, const std::string& name) {
  auto flat = io::read_dataset<T>(f, name);
  auto off = io::read_dataset<int64_t>(f, name + "_offsets");
  std::vector<std::vector<T>> rows;
  for (size_t k = 0; k + 1 < off.size(); ++k)
    rows.emplace_back(flat.begin() + off[k], flat.begin() + off[k + 1]);
  return rows;
}

}  // namespace k1rl::byom_test
