// The config system: options declared once (ConfigSpec), read from an INI file with
// Boost.Program_options, overridden by --section.key=value. This file adds what Boost does not
// give: the line of each key, suggestions for typos, choices, and the resolved INI text.
#include <boost/program_options.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "lib/core/core.h"

namespace po = boost::program_options;

namespace k1rl {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string last_part(const std::string& key) {
  size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

const char* type_name(const ConfigValue& v) {
  switch (v.index()) {
    case 0:
      return "true or false";
    case 1:
      return "an integer";
    case 2:
      return "a number";
    default:
      return "text";
  }
}

// Builds the Boost description of every declared option (no defaults: we keep ours).
po::options_description boost_description(const ConfigSpec& spec) {
  po::options_description desc;
  for (const auto& o : spec.options()) {
    const char* name = o.key.c_str();
    switch (o.def.index()) {
      case 0:
        desc.add_options()(name, po::value<bool>());
        break;
      case 1:
        desc.add_options()(name, po::value<int64_t>());
        break;
      case 2:
        desc.add_options()(name, po::value<double>());
        break;
      default:
        desc.add_options()(name, po::value<std::string>());
        break;
    }
  }
  return desc;
}

ConfigValue from_boost(const ConfigValue& like, const po::variable_value& v) {
  switch (like.index()) {
    case 0:
      return v.as<bool>();
    case 1:
      return v.as<int64_t>();
    case 2:
      return v.as<double>();
    default:
      return v.as<std::string>();
  }
}

}  // namespace

// --- Check --------------------------------------------------------------------------------

namespace {
std::string bound_text(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e16) return strfmt("%.0f", v);
  return config_value_text(v);
}
}  // namespace

Check& Check::ge(double v) {
  if (v > lo_) lo_ = v, lo_open_ = false;
  return *this;
}
Check& Check::gt(double v) {
  if (v >= lo_) lo_ = v, lo_open_ = true;
  return *this;
}
Check& Check::le(double v) {
  if (v < hi_) hi_ = v, hi_open_ = false;
  return *this;
}
Check& Check::lt(double v) {
  if (v <= hi_) hi_ = v, hi_open_ = true;
  return *this;
}
Check& Check::rule(std::function<bool(const ConfigValue&)> ok, std::string what) {
  rules_.emplace_back(std::move(ok), std::move(what));
  return *this;
}
bool Check::bounded() const {
  return std::isfinite(lo_) || std::isfinite(hi_);
}

std::string Check::text() const {
  const bool lo = std::isfinite(lo_), hi = std::isfinite(hi_);
  if (lo && hi)
    return std::string("in ") + (lo_open_ ? "(" : "[") + bound_text(lo_) + ", " + bound_text(hi_) +
           (hi_open_ ? ")" : "]");
  if (lo) return (lo_open_ ? "> " : ">= ") + bound_text(lo_);
  if (hi) return (hi_open_ ? "< " : "<= ") + bound_text(hi_);
  return "";
}

std::string Check::problem(const ConfigValue& v) const {
  std::optional<double> x;
  if (const auto* i = std::get_if<int64_t>(&v)) x = static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) return "it must be a finite number" + (bounded() ? " " + text() : "");
    x = *d;
  }
  if (x && ((lo_open_ ? *x <= lo_ : *x < lo_) || (hi_open_ ? *x >= hi_ : *x > hi_)))
    return "it must be " + text();
  for (const auto& [ok, what] : rules_)
    if (!ok(v)) return "it must be " + what;
  return "";
}

std::string ConfigSpec::Option::constraint() const {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) out += (i ? "|" : "") + choices[i];
  if (!out.empty()) out = "[" + out + "]";
  if (check.bounded()) out += (out.empty() ? "(" : " (") + check.text() + ")";
  return out;
}

std::string ConfigSpec::Option::problem(const ConfigValue& v) const {
  if (!choices.empty()) {
    const auto* s = std::get_if<std::string>(&v);
    if (!s || std::find(choices.begin(), choices.end(), *s) == choices.end()) {
      std::string list;
      for (const auto& c : choices) list += (list.empty() ? "" : "|") + c;
      return "it must be one of " + list;
    }
  }
  return check.problem(v);
}

void config_bad_value(const ConfigSpec::Option& o, const std::string& value_text,
                      const std::string& where, const std::string& why) {
  throw ConfigError("bad value '" + value_text + "' for " + o.key + " (" + where + ")", why,
                    "help: " + o.help);
}

// --- ConfigSpec ---------------------------------------------------------------------------

ConfigSpec& ConfigSpec::add(Option o) {
  if (find(o.key))
    throw ConfigError("option '" + o.key + "' declared twice", "two modules declare the same key",
                      "rename one of them");
  std::string why = o.problem(o.def);
  if (!why.empty())
    throw ConfigError("option '" + o.key + "' is declared with the bad default '" +
                          config_value_text(o.def) + "'",
                      why, "fix its declaration");
  options_.push_back(std::move(o));
  return *this;
}
ConfigSpec& ConfigSpec::add_bool(const std::string& k, bool d, const std::string& h) {
  return add({k, h, d, {}, {}});
}
ConfigSpec& ConfigSpec::add_int(const std::string& k, int64_t d, const std::string& h, Check c) {
  return add({k, h, d, {}, std::move(c)});
}
ConfigSpec& ConfigSpec::add_double(const std::string& k, double d, const std::string& h, Check c) {
  return add({k, h, d, {}, std::move(c)});
}
ConfigSpec& ConfigSpec::add_string(const std::string& k, const std::string& d, const std::string& h,
                                   Check c) {
  return add({k, h, d, {}, std::move(c)});
}
ConfigSpec& ConfigSpec::add_choice(const std::string& k, const std::string& d,
                                   const std::vector<std::string>& c, const std::string& h) {
  return add({k, h, d, c, {}});
}

const ConfigSpec::Option* ConfigSpec::find(const std::string& key) const {
  for (const auto& o : options_)
    if (o.key == key) return &o;
  return nullptr;
}

std::string ConfigSpec::nearest(const std::string& key) const {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& o : options_) {
    // The same name in another section is the likeliest slip ([train] lr vs [optim] lr).
    size_t d = last_part(o.key) == last_part(key) ? 0 : edit_distance(o.key, key);
    if (d < best_d) best_d = d, best = o.key;
  }
  return best;
}

// --- Config -------------------------------------------------------------------------------

Config::Config(const ConfigSpec& spec) : spec_(std::make_shared<ConfigSpec>(spec)) {
  for (const auto& o : spec.options()) {
    values_[o.key] = o.def;
    sources_[o.key] = "default";
  }
}

const ConfigSpec::Option& Config::option(const std::string& key) const {
  const ConfigSpec::Option* o = spec_ ? spec_->find(key) : nullptr;
  if (!o)
    throw ConfigError("unknown option '" + key + "'", "no module declares it",
                      spec_ ? "did you mean '" + spec_->nearest(key) + "'?" : "declare it first");
  return *o;
}

void Config::assign(const std::string& key, const std::string& text, const std::string& where) {
  const auto& o = option(key);
  po::options_description desc = boost_description(*spec_);
  po::variables_map vm;
  std::string arg = "--" + key + "=" + text;
  const char* argv[] = {"k1rl", arg.c_str()};
  try {
    po::store(po::parse_command_line(2, argv, desc), vm);
  } catch (const po::error&) {
    throw ConfigError("bad value '" + text + "' for " + key + " (" + where + ")",
                      std::string("expected ") + type_name(o.def), "help: " + o.help);
  }
  ConfigValue v = from_boost(o.def, vm[key]);
  std::string why = o.problem(v);
  if (!why.empty()) config_bad_value(o, text, where, why);
  values_[key] = v;
  sources_[key] = where;
}

Config Config::load(const ConfigSpec& spec, const std::string& ini_path,
                    const std::vector<std::string>& overrides) {
  std::string text;
  if (!ini_path.empty()) {
    std::ifstream in(ini_path);
    if (!in)
      throw ConfigError("cannot read config file '" + ini_path + "'", "no such file or unreadable",
                        "check the path given to --config (configs live in inputs/configs/)");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  return parse(spec, text, ini_path, overrides);
}

Config Config::parse(const ConfigSpec& spec, const std::string& ini_text, const std::string& name,
                     const std::vector<std::string>& overrides) {
  Config cfg(spec);
  // Pass 1 (ours): the line of every key, syntax errors and unknown keys, with suggestions.
  std::map<std::string, int> line_of;
  std::string section;
  std::istringstream lines(ini_text);
  std::string raw;
  for (int n = 1; std::getline(lines, raw); ++n) {
    std::string l = trim(raw.substr(0, raw.find('#')));
    if (l.empty()) continue;
    std::string where = strfmt("%s:%d", name.c_str(), n);
    if (l.front() == '[') {
      if (l.back() != ']')
        throw ConfigError("bad section header at " + where, "'" + l + "' has no closing ']'",
                          "write [section]");
      section = trim(l.substr(1, l.size() - 2));
      continue;
    }
    size_t eq = l.find('=');
    if (eq == std::string::npos)
      throw ConfigError("bad line at " + where, "'" + l + "' is not 'key = value'",
                        "write key = value under a [section] header");
    std::string key = trim(l.substr(0, eq));
    if (!section.empty()) key = section + "." + key;
    if (!spec.find(key))
      throw ConfigError("unknown key '" + key + "' at " + where, "no such option",
                        "did you mean '" + spec.nearest(key) + "'?");
    line_of[key] = n;
  }
  // Pass 2 (Boost): values and types, in Boost.Program_options config-file syntax.
  po::options_description desc = boost_description(spec);
  po::variables_map vm;
  std::istringstream in(ini_text);
  try {
    po::store(po::parse_config_file(in, desc, false), vm);
  } catch (const po::error_with_option_name& e) {
    std::string key = e.get_option_name();
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    const auto* o = spec.find(key);
    std::string where = strfmt("%s:%d", name.c_str(), line_of.count(key) ? line_of[key] : 0);
    throw ConfigError("bad value for " + key + " at " + where, e.what(),
                      o ? std::string("expected ") + type_name(o->def) + "; help: " + o->help
                        : std::string("check the line"));
  } catch (const po::error& e) {
    throw ConfigError("cannot parse config file '" + name + "'", e.what(),
                      "fix the file; see --print-config for the expected form");
  }
  for (const auto& [key, n] : line_of) {
    std::string where = strfmt("%s:%d", name.c_str(), n);
    const auto& o = cfg.option(key);
    ConfigValue v = from_boost(o.def, vm[key]);
    std::string why = o.problem(v);
    if (!why.empty()) config_bad_value(o, config_value_text(v), where, why);
    cfg.values_[key] = v;
    cfg.sources_[key] = where;
  }
  // Pass 3: command-line overrides "section.key=value" (leading dashes allowed).
  for (std::string ov : overrides) {
    while (!ov.empty() && ov.front() == '-') ov.erase(0, 1);
    size_t eq = ov.find('=');
    if (eq == std::string::npos)
      throw ConfigError("bad override '--" + ov + "'", "no value",
                        "write --section.key=value (e.g. --train.lr=3e-4)");
    std::string key = ov.substr(0, eq);
    if (!spec.find(key))
      throw ConfigError("unknown option '--" + key + "' on the command line", "no such option",
                        "did you mean '--" + spec.nearest(key) + "'?");
    cfg.assign(key, ov.substr(eq + 1), "command line");
  }
  return cfg;
}

const ConfigValue& Config::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) option(key);  // throws with a suggestion
  return it->second;
}

namespace {
template <class T>
const T& typed(const Config& c, const std::string& key, const char* want) {
  const ConfigValue& v = c.get(key);
  if (!std::holds_alternative<T>(v))
    throw ConfigError("option '" + key + "' read as " + want, "it is declared with another type",
                      "this is a bug in the module that reads it");
  return std::get<T>(v);
}
}  // namespace

bool Config::get_bool(const std::string& key) const {
  return typed<bool>(*this, key, "bool");
}
int64_t Config::get_int(const std::string& key) const {
  return typed<int64_t>(*this, key, "int");
}
int64_t Config::get_int_min(const std::string& key, int64_t min) const {
  int64_t v = get_int(key);
  if (v < min)
    throw ConfigError(strfmt("bad value %lld for %s (%s)", static_cast<long long>(v), key.c_str(),
                             source(key).c_str()),
                      strfmt("it must be at least %lld", static_cast<long long>(min)),
                      "help: " + option(key).help);
  return v;
}

double Config::get_double(const std::string& key) const {
  return typed<double>(*this, key, "double");
}
const std::string& Config::get_string(const std::string& key) const {
  return typed<std::string>(*this, key, "string");
}

void Config::set(const std::string& key, const std::string& value) {
  assign(key, value, "set by the program");
}

const std::string& Config::source(const std::string& key) const {
  get(key);
  return sources_.at(key);
}

std::string config_value_text(const ConfigValue& v) {
  switch (v.index()) {
    case 0:
      return std::get<bool>(v) ? "true" : "false";
    case 1:
      return std::to_string(std::get<int64_t>(v));
    case 2: {
      std::string s = strfmt("%.17g", std::get<double>(v));
      // Shortest text that reads back to the same double.
      for (int p = 1; p <= 17; ++p) {
        std::string t = strfmt("%.*g", p, std::get<double>(v));
        if (std::stod(t) == std::get<double>(v)) return t;
      }
      return s;
    }
    default:
      return std::get<std::string>(v);
  }
}

std::optional<ConfigValue> config_value_from_text(const ConfigValue& like, const std::string& t) {
  char* end = nullptr;
  switch (like.index()) {
    case 0:
      if (t == "true" || t == "1") return ConfigValue(true);
      if (t == "false" || t == "0") return ConfigValue(false);
      return std::nullopt;
    case 1: {
      errno = 0;
      long long v = std::strtoll(t.c_str(), &end, 10);
      if (t.empty() || *end || errno) return std::nullopt;
      return ConfigValue(static_cast<int64_t>(v));
    }
    case 2: {
      double v = std::strtod(t.c_str(), &end);
      if (t.empty() || *end) return std::nullopt;
      return ConfigValue(v);
    }
    default:
      return ConfigValue(t);
  }
}

std::vector<std::string> config_split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!trim(item).empty()) out.push_back(trim(item));
  return out;
}

std::string config_join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

std::map<std::string, std::string> Config::section(const std::string& name) const {
  std::map<std::string, std::string> out;
  for (const auto& [key, v] : values_)
    if (key.size() > name.size() && key.compare(0, name.size(), name) == 0 &&
        key[name.size()] == '.')
      out[key.substr(name.size() + 1)] = config_value_text(v);
  return out;
}

std::string Config::to_ini() const {
  std::map<std::string, std::vector<const ConfigSpec::Option*>> by_section;
  for (const auto& o : spec_->options()) {
    size_t dot = o.key.find('.');
    by_section[dot == std::string::npos ? "" : o.key.substr(0, dot)].push_back(&o);
  }
  std::string out;
  for (auto& [sec, opts] : by_section) {
    std::sort(opts.begin(), opts.end(), [](auto* a, auto* b) { return a->key < b->key; });
    if (!sec.empty()) out += (out.empty() ? "[" : "\n[") + sec + "]\n";
    for (const auto* o : opts) {
      std::string key = sec.empty() ? o->key : o->key.substr(sec.size() + 1);
      out += "# " + o->help;
      if (!o->constraint().empty()) out += " " + o->constraint();
      out += "\n" + key + " = " + config_value_text(values_.at(o->key)) + "\n";
    }
  }
  return out;
}

}  // namespace k1rl
