// The JSON value of lib/json/json.h: a recursive-descent parser (depth-limited, UTF-16 surrogate
// pairs joined) and a writer that keeps key order.
#include <cmath>
#include <cstdlib>

#include "lib/json/json.h"

namespace k1rl {
namespace {

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Parser {
 public:
  Parser(std::string_view t, const std::string& name) : t_(t), name_(name) {}

  Json document() {
    Json v = value(0);
    skip_ws();
    if (i_ != t_.size()) fail("unexpected text after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) {
    throw InputError(name_, strfmt("invalid JSON at byte %zu: %s", i_, why.c_str()),
                     "check that the file is complete and is JSON");
  }
  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t'))
      ++i_;
  }
  bool eat(char c) {
    skip_ws();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(strfmt("expected '%c'", c));
  }
  bool word(std::string_view w) {
    if (t_.compare(i_, w.size(), w) != 0) return false;
    i_ += w.size();
    return true;
  }

  Json value(int depth) {
    if (depth > 200) fail("nested too deeply");
    skip_ws();
    if (i_ >= t_.size()) fail("unexpected end");
    char c = t_[i_];
    if (c == '{') {
      ++i_;
      Json o = Json::make_object();
      if (eat('}')) return o;
      do {
        skip_ws();
        if (i_ >= t_.size() || t_[i_] != '"') fail("expected a key string");
        std::string key = string();
        expect(':');
        o.add(key, value(depth + 1));
      } while (eat(','));
      expect('}');
      return o;
    }
    if (c == '[') {
      ++i_;
      Json a = Json::make_array();
      if (eat(']')) return a;
      do a.push(value(depth + 1));
      while (eat(','));
      expect(']');
      return a;
    }
    if (c == '"') return Json(string());
    if (word("true")) return Json(true);
    if (word("false")) return Json(false);
    if (word("null")) return Json();
    if (word("NaN")) return Json(std::nan(""));
    if (word("Infinity")) return Json(HUGE_VAL);
    if (word("-Infinity")) return Json(-HUGE_VAL);
    return Json(number());
  }

  double number() {
    size_t start = i_;
    if (i_ < t_.size() && (t_[i_] == '-' || t_[i_] == '+')) ++i_;
    while (i_ < t_.size() && (isdigit(static_cast<unsigned char>(t_[i_])) || t_[i_] == '.' ||
                              t_[i_] == 'e' || t_[i_] == 'E' || t_[i_] == '-' || t_[i_] == '+'))
      ++i_;
    std::string s(t_.substr(start, i_ - start));
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) {
      i_ = start;
      fail("expected a value");
    }
    return v;
  }

  uint32_t hex4() {
    if (i_ + 4 > t_.size()) fail("short \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char h = t_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= h - '0';
      else if ((h | 32) >= 'a' && (h | 32) <= 'f')
        v |= (h | 32) - 'a' + 10;
      else
        fail("bad \\u escape");
    }
    return v;
  }

  std::string string() {
    ++i_;  // opening quote
    std::string out;
    while (true) {
      if (i_ >= t_.size()) fail("unterminated string");
      char c = t_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= t_.size()) fail("unterminated escape");
      char e = t_[i_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF && t_.compare(i_, 2, "\\u") == 0) {
            size_t save = i_;
            i_ += 2;
            uint32_t lo = hex4();
            if (lo >= 0xDC00 && lo <= 0xDFFF)
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else
              i_ = save;
          }
          utf8_append(out, cp);
          break;
        }
        default:
          fail(strfmt("bad escape \\%c", e));
      }
    }
  }

  std::string_view t_;
  const std::string& name_;
  size_t i_ = 0;
};

void dump_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20)
          out += strfmt("\\u%04x", c);
        else
          out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

const Json& null_json() {
  static const Json n;
  return n;
}

}  // namespace

Json Json::parse(std::string_view text, const std::string& name) {
  return Parser(text, name).document();
}

bool Json::as_bool() const {
  if (type_ != Type::boolean) throw InputError("JSON value", "is not a boolean", "");
  return b_;
}
double Json::as_number() const {
  if (type_ != Type::number) throw InputError("JSON value", "is not a number", "");
  return n_;
}
int64_t Json::as_int() const {
  double v = as_number();
  if (v != std::floor(v) || std::fabs(v) > 9.007199254740992e15)
    throw InputError("JSON value", strfmt("%g is not an integer", v), "");
  return static_cast<int64_t>(v);
}
const std::string& Json::as_string() const {
  if (type_ != Type::string) throw InputError("JSON value", "is not a string", "");
  return s_;
}
const std::vector<Json>& Json::items() const {
  if (type_ != Type::array) throw InputError("JSON value", "is not an array", "");
  return a_;
}
const std::vector<std::pair<std::string, Json>>& Json::members() const {
  if (type_ != Type::object) throw InputError("JSON value", "is not an object", "");
  return o_;
}
bool Json::has(const std::string& key) const {
  if (type_ != Type::object) return false;
  for (const auto& kv : o_)
    if (kv.first == key) return true;
  return false;
}
const Json& Json::operator[](const std::string& key) const {
  if (type_ == Type::object)
    for (const auto& kv : o_)
      if (kv.first == key) return kv.second;
  return null_json();
}
const Json& Json::at(size_t i) const {
  const auto& a = items();
  if (i >= a.size()) throw InputError("JSON array", strfmt("has no item %zu", i), "");
  return a[i];
}
size_t Json::size() const {
  return type_ == Type::array ? a_.size() : type_ == Type::object ? o_.size() : 0;
}
Json& Json::set(const std::string& key, Json v) {
  if (type_ == Type::null) type_ = Type::object;
  if (type_ != Type::object) throw InputError("JSON value", "is not an object", "");
  for (auto& kv : o_)
    if (kv.first == key) {
      kv.second = std::move(v);
      return *this;
    }
  o_.emplace_back(key, std::move(v));
  return *this;
}
Json& Json::add(const std::string& key, Json v) {
  if (type_ == Type::null) type_ = Type::object;
  if (type_ != Type::object) throw InputError("JSON value", "is not an object", "");
  o_.emplace_back(key, std::move(v));
  return *this;
}
Json& Json::push(Json v) {
  if (type_ == Type::null) type_ = Type::array;
  if (type_ != Type::array) throw InputError("JSON value", "is not an array", "");
  a_.push_back(std::move(v));
  return *this;
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

void Json::dump_to(std::string& out, int indent, int depth) const {
  auto newline = [&](int d) {
    if (indent <= 0) return;
    out.push_back('\n');
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (type_) {
    case Type::null:
      out += "null";
      break;
    case Type::boolean:
      out += b_ ? "true" : "false";
      break;
    case Type::number:
      if (std::isnan(n_))
        out += "NaN";
      else if (std::isinf(n_))
        out += n_ > 0 ? "Infinity" : "-Infinity";
      else if (n_ == std::floor(n_) && std::fabs(n_) < 1e15)
        out += strfmt("%lld", static_cast<long long>(n_));
      else
        out += strfmt("%.17g", n_);
      break;
    case Type::string:
      dump_string(out, s_);
      break;
    case Type::array:
      out.push_back('[');
      for (size_t k = 0; k < a_.size(); ++k) {
        if (k) out.push_back(',');
        newline(depth + 1);
        a_[k].dump_to(out, indent, depth + 1);
      }
      if (!a_.empty()) newline(depth);
      out.push_back(']');
      break;
    case Type::object:
      out.push_back('{');
      for (size_t k = 0; k < o_.size(); ++k) {
        if (k) out.push_back(',');
        newline(depth + 1);
        dump_string(out, o_[k].first);
        out += indent > 0 ? ": " : ":";
        o_[k].second.dump_to(out, indent, depth + 1);
      }
      if (!o_.empty()) newline(depth);
      out.push_back('}');
      break;
  }
}

}  // namespace k1rl
