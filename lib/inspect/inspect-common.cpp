// What the commands share: the run's config and tokenizer, published shards, printable text.
#include <filesystem>

#include "lib/app/app.h"
#include "lib/inspect/inspect-impl.h"
#include "lib/io/io.h"

namespace fs = std::filesystem;

namespace k1rl::inspect {

Config load_run_config(const std::string& config_ini) {
  if (!io::file_exists(config_ini))
    throw ConfigError("cannot tell the run's tokenizer", config_ini + " does not exist",
                      "give --config FILE (the run's resolved config.ini)");
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::load(spec, config_ini, {});
}

std::unique_ptr<Tokenizer> run_tokenizer(const std::string& config_ini) {
  return make_tokenizer(load_run_config(config_ini));
}

std::string printable(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) utf8_append(out, utf8_next(bytes, i));
  return out;
}

bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

void require_run_dir(const std::string& run_dir) {
  if (!is_dir(run_dir))
    throw IoError("'" + run_dir + "' is not a run directory",
                  io::file_exists(run_dir) ? "it is a file" : "it does not exist",
                  "give the run.dir of a run (it holds config.ini, ckpt/, buffer/, metrics.h5)");
}

std::vector<buffer::Shard> read_shards(const std::string& path, int64_t iteration) {
  std::vector<buffer::Shard> out;
  if (!is_dir(path)) {
    out.push_back(buffer::read_shard(path));  // a missing file is an IoError naming it
    return out;
  }
  require_run_dir(path);
  for (const auto& ref : buffer::list_shards(RunDir(path).buffer_dir())) {
    if (iteration >= 0 && ref.iteration != iteration) continue;
    try {
      out.push_back(buffer::read_shard(ref.path));
    } catch (const IoError&) {
      if (io::file_exists(ref.path)) throw;  // deleted meanwhile by retention: not an error
    }
  }
  return out;
}

std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (io::is_temp_name(e.path().filename().string())) out.push_back(e.path().string());
  return out;
}

std::string follow_latest(const std::string& path) {
  if (fs::path(path).filename() != "latest" || is_dir(path)) return path;
  std::string name = io::read_text(path);
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  return (fs::path(path).parent_path() / name).string();
}

}  // namespace k1rl::inspect
