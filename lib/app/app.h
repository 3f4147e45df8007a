// k1rl app scaffolding: what every k1rl-<app> main() does once. Parses --help, --config FILE,
// --print-config and --section.key=value overrides against the full option schema, sets up MPI
// (when asked), logging and the process identity, runs the body, and turns errors into one line
//   k1rl-<app>: error: <what>: <why>; <hint>
// with a documented exit code. Usage in apps/<app>/main.cpp:
//   int main(int argc, char** argv) { return k1rl::app_main(argc, argv, info, body); }
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lib/core/core.h"

namespace k1rl {

// Exit codes: k1rl::ExitCode in lib/core (kExitOk, kExitInternal, kExitBadInput, kExitUsage,
// kExitStoppedEarly).

// Declares every section of the shared config file (run, model, train, rollout, reward, ...).
// Each module contributes its own declare_<module>_options(ConfigSpec&); see schema.cpp.
void declare_all_options(ConfigSpec& spec);
// The option tables of the sections read into structs (each key bound to its member).
std::vector<const OptionGroup*> all_option_groups();
// Reads every section into its struct as the modules do, so that a bad value or combination
// (model.heads not dividing model.dim) is a ConfigError naming the key before any work starts.
void check_all_options(const Config& cfg);

// An app-specific flag (not part of the INI file), e.g. k1rl-reward --score FILE.
struct AppFlag {
  std::string name, help;
  std::string def;          // default value as text
  bool takes_value = true;  // false: a switch ("1" when given)
};

struct AppInfo {
  std::string name;      // "train" -> k1rl-train
  std::string summary;   // one line for --help
  bool use_mpi = false;  // MPI_Init_thread / MPI_Finalize around the body
  std::vector<AppFlag> flags;
};

struct AppContext {
  std::string name;
  Config cfg;
  std::map<std::string, std::string> flags;  // app flags with their values
  int rank = 0, size = 1;                    // in MPI_COMM_WORLD (0/1 without MPI)
  const std::string& flag(const std::string& n) const;
};

// Default config file: --config FILE, else $K1RL_CONFIG, else none (declared defaults).
int app_main(int argc, char** argv, const AppInfo& info,
             const std::function<int(AppContext&)>& body);

}  // namespace k1rl
