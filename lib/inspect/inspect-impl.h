// Internals shared by the lib/inspect files (not for other modules).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lib/inspect/inspect.h"

namespace k1rl::inspect {

// The run's resolved config (config.ini) against the full option schema.
Config load_run_config(const std::string& config_ini);
bool is_dir(const std::string& path);
void require_run_dir(const std::string& run_dir);  // IoError when it is not a folder
// Temporary files (.tmp-<host>-<pid>) in a folder: writes in flight (or left by a killed writer).
std::vector<std::string> temporaries(const std::string& dir);
// A `latest` pointer file -> the path of the checkpoint it names; other paths unchanged.
std::string follow_latest(const std::string& path);

}  // namespace k1rl::inspect
