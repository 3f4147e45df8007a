// Helpers for the io tests: a fresh temporary folder per test.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

inline std::string fresh_dir(const std::string& tag) {
  auto p = std::filesystem::temp_directory_path() /
           ("k1rl-test-" + tag + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

inline std::vector<std::string> dir_names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}
