// app_main: the one start-up path of every k1rl executable (options, MPI, logging, errors).
#include <mpi.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "kernels/ops.h"
#include "lib/app/app.h"
#include "lib/model/model.h"

namespace po = boost::program_options;

namespace k1rl {

const std::string& AppContext::flag(const std::string& n) const {
  auto it = flags.find(n);
  if (it == flags.end())
    throw ConfigError("app flag '--" + n + "' is not declared", "a bug in k1rl-" + name,
                      "please report it");
  return it->second;
}

namespace {

struct Parsed {
  bool help = false, print_config = false, version = false;
  std::string config;
  std::map<std::string, std::string> flags;
  std::vector<std::string> overrides;
};

po::options_description generic_options(const AppInfo& info) {
  po::options_description desc("Options");
  desc.add_options()("help,h", "print this help and exit")(
      "config", po::value<std::string>(),
      "INI config file (default: $K1RL_CONFIG, else built-in defaults)")(
      "print-config", "print the resolved config as INI and exit")("version", "print the version");
  for (const auto& f : info.flags) {
    if (f.takes_value)
      desc.add_options()(f.name.c_str(), po::value<std::string>()->default_value(f.def),
                         f.help.c_str());
    else
      desc.add_options()(f.name.c_str(), f.help.c_str());
  }
  return desc;
}

Parsed parse_args(int argc, char** argv, const AppInfo& info) {
  po::options_description desc = generic_options(info);
  po::variables_map vm;
  std::vector<std::string> rest;
  try {
    auto parsed = po::command_line_parser(argc, argv).options(desc).allow_unregistered().run();
    po::store(parsed, vm);
    rest = po::collect_unrecognized(parsed.options, po::include_positional);
  } catch (const po::error& e) {
    throw ConfigError("bad command line", e.what(), "see k1rl-" + info.name + " --help");
  }
  Parsed p;
  p.help = vm.count("help") > 0;
  p.print_config = vm.count("print-config") > 0;
  p.version = vm.count("version") > 0;
  if (vm.count("config"))
    p.config = vm["config"].as<std::string>();
  else if (const char* env = std::getenv("K1RL_CONFIG"))
    p.config = env;
  for (const auto& f : info.flags) {
    if (f.takes_value)
      p.flags[f.name] = vm[f.name].as<std::string>();
    else
      p.flags[f.name] = vm.count(f.name) ? "1" : "0";
  }
  // Config overrides: --section.key=value or --section.key value.
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (a.rfind("--", 0) != 0 || a.find('.') == std::string::npos)
      throw ConfigError("unexpected argument '" + a + "'", "not an option of k1rl-" + info.name,
                        "see k1rl-" + info.name + " --help; config keys are --section.key=value");
    if (a.find('=') != std::string::npos)
      p.overrides.push_back(a);
    else if (i + 1 < rest.size())
      p.overrides.push_back(a + "=" + rest[++i]);
    else
      throw ConfigError("option '" + a + "' has no value", "expected --section.key=value",
                        "e.g. --train.lr=3e-4");
  }
  return p;
}

void print_help(const AppInfo& info, const ConfigSpec& spec) {
  std::cout << "usage: k1rl-" << info.name
            << " [--config FILE] [--section.key=value ...] [options]\n"
            << info.summary << "\n\n"
            << generic_options(info) << "\nConfig options (INI [section] key = value, or "
            << "--section.key=value on the command line):\n";
  for (const auto& o : spec.options()) {
    std::cout << "  --" << o.key << " (default " << config_value_text(o.def) << ")\n      "
              << o.help;
    if (!o.constraint().empty()) std::cout << " " << o.constraint();  // [a|b] or (>= 1)
    std::cout << "\n";
  }
  std::cout << "\nExit codes: 0 ok, 1 internal error, 2 bad input (config, files, data, peers),\n"
               "64 bad command line, 75 stopped early but safely (resubmit to continue).\n";
}

bool mpi_is_on() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

// Reports an error the way scripts and people read it, and brings the MPI job down with it so
// that no peer waits forever in a collective.
int fail(const AppInfo& info, const std::string& line, int code, bool print) {
  if (print) std::fprintf(stderr, "k1rl-%s: error: %s\n", info.name.c_str(), line.c_str());
  std::fflush(stderr);
  int size = 1;
  if (mpi_is_on()) MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (mpi_is_on() && size > 1) {
    // mpiexec's proxy forwards our stderr from a pipe, and an abort can reach it first: it then
    // tears the job down without the error line (seen in CI under load). Give it time to read.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    MPI_Abort(MPI_COMM_WORLD, code);
  }
  if (mpi_is_on()) MPI_Finalize();
  return code;
}

}  // namespace

int app_main(int argc, char** argv, const AppInfo& info,
             const std::function<int(AppContext&)>& body) {
  keep_freed_memory_mapped();
  set_process_identity(info.name, -1, 0);
  // Slurm's time-limit warning (SIGUSR1) reaches every rank through mpiexec: only train acts on
  // it (lib/loop installs its handler); the other apps must not die of it.
  std::signal(SIGUSR1, SIG_IGN);
  AppContext ctx;
  ctx.name = info.name;
  Parsed args;
  try {
    args = parse_args(argc, argv, info);
  } catch (const Error& e) {
    return fail(info, e.line(), kExitUsage, true);
  }
  ConfigSpec spec;
  declare_all_options(spec);
  if (args.help) {
    print_help(info, spec);
    return kExitOk;
  }
  if (args.version) {
    std::printf("k1rl-%s 0.1.0\n", info.name.c_str());
    return kExitOk;
  }
  if (info.use_mpi && !args.print_config) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &ctx.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ctx.size);
    set_process_identity(info.name, ctx.rank, ctx.size);
  }
  try {
    ctx.cfg = Config::load(spec, args.config, args.overrides);
    check_all_options(ctx.cfg);  // what spans keys too, before any work
    ctx.flags = args.flags;
  } catch (const Error& e) {
    return fail(info, e.line(), kExitBadInput, ctx.rank == 0);  // every rank sees the same error
  }
  if (args.print_config) {
    std::cout << ctx.cfg.to_ini();
    return kExitOk;
  }
  if (!std::getenv("K1RL_LOG")) {
    try {
      set_log_level(parse_log_level(ctx.cfg.get_string("run.log_level")));
    } catch (const Error& e) {
      return fail(info, e.line(), kExitBadInput, ctx.rank == 0);
    }
  }
  int code = kExitOk;
  try {
    model::engine_setup(ctx.cfg);  // the backend and precision, once, before any op
    code = body(ctx);
  } catch (const Error& e) {
    return fail(info, e.line(), kExitBadInput, true);
  } catch (const std::bad_alloc&) {
    return fail(info,
                "out of memory: " + process_where() +
                    "; use a smaller batch or model, or more memory per rank",
                kExitBadInput, true);
  } catch (const std::exception& e) {
    return fail(info,
                std::string("internal error: ") + e.what() + "; please report it with the log",
                kExitInternal, true);
  }
  if (mpi_is_on()) MPI_Finalize();
  return code;
}

}  // namespace k1rl
