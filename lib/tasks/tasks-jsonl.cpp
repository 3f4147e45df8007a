// JSON Lines files (task files, answer and score files) and field helpers over k1rl::Json (the
// lib/json value, shared by the whole project).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "lib/tasks/tasks.h"

namespace k1rl {

const Json& json_at(const Json& obj, const std::string& key) {
  if (!obj.has(key))
    throw InputError("bad JSON object", "missing key \"" + key + "\"",
                     "check the file against DESIGN.md's formats");
  return obj[key];
}

std::string json_string(const Json& obj, const std::string& key, const std::string& def) {
  const Json& v = obj[key];
  return v.is_null() ? def : v.as_string();
}

int64_t json_int(const Json& obj, const std::string& key, int64_t def) {
  const Json& v = obj[key];
  return v.is_null() ? def : v.as_int();
}

double json_double(const Json& obj, const std::string& key, double def) {
  const Json& v = obj[key];
  return v.is_null() ? def : v.as_number();
}

bool json_bool(const Json& obj, const std::string& key, bool def) {
  const Json& v = obj[key];
  return v.is_null() ? def : v.as_bool();
}

std::vector<Json> read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw IoError("cannot read '" + path + "'", std::strerror(errno),
                  "check the path (task files are made by k1rl-tasks)");
  std::vector<Json> rows;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    rows.push_back(Json::parse(line, path + ":" + std::to_string(lineno)));
  }
  return rows;
}

void write_jsonl(const std::string& path, const std::vector<Json>& rows) {
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw IoError("cannot write '" + tmp + "'", std::strerror(errno),
                    "check that the folder exists and is writable");
    for (const auto& r : rows) out << r.dump() << '\n';
    out.flush();
    if (!out)
      throw IoError("cannot write '" + tmp + "'", std::strerror(errno), "is the disk full?");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw IoError("cannot rename '" + tmp + "' to '" + path + "'", std::strerror(errno),
                  "check the folder's permissions");
}

}  // namespace k1rl
