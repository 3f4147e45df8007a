// k1rl json: the project's one JSON value, a small reader/writer for the files it reads and
// writes (task JSON Lines, Hugging Face tokenizer.json/config.json, safetensors headers, answers
// for k1rl-reward). Objects keep their key order, so files we write read like the originals.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/core/core.h"

namespace k1rl {

// A parsed JSON value (objects keep key order). parse() throws InputError with the offset.
class Json {
 public:
  enum class Type { null, boolean, number, string, array, object };
  Json() = default;
  static Json parse(std::string_view text, const std::string& name = "json");
  static Json make_object() {
    Json j;
    j.type_ = Type::object;
    return j;
  }
  static Json make_array() {
    Json j;
    j.type_ = Type::array;
    return j;
  }
  Json(bool b) : type_(Type::boolean), b_(b) {}
  Json(double n) : type_(Type::number), n_(n) {}
  Json(int64_t n) : type_(Type::number), n_(static_cast<double>(n)) {}
  Json(int n) : type_(Type::number), n_(n) {}
  Json(std::string s) : type_(Type::string), s_(std::move(s)) {}
  Json(const char* s) : type_(Type::string), s_(s) {}

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::null; }
  bool is_object() const { return type_ == Type::object; }
  bool is_array() const { return type_ == Type::array; }
  bool is_string() const { return type_ == Type::string; }
  bool is_number() const { return type_ == Type::number; }
  bool as_bool() const;
  double as_number() const;
  int64_t as_int() const;
  const std::string& as_string() const;
  const std::vector<Json>& items() const;                            // array
  const std::vector<std::pair<std::string, Json>>& members() const;  // object
  bool has(const std::string& key) const;
  const Json& operator[](const std::string& key) const;  // null Json when absent
  const Json& at(size_t i) const;
  size_t size() const;
  Json& set(const std::string& key, Json v);  // object: adds or replaces; returns *this
  Json& add(const std::string& key, Json v);  // object: appends without looking (large objects)
  Json& push(Json v);                         // array
  // Compact JSON, or indented by `indent` spaces per level when > 0. Non-ASCII stays UTF-8.
  std::string dump(int indent = 0) const;

 private:
  void dump_to(std::string& out, int indent, int depth) const;
  Type type_ = Type::null;
  bool b_ = false;
  double n_ = 0;
  std::string s_;
  std::vector<Json> a_;
  std::vector<std::pair<std::string, Json>> o_;
};

}  // namespace k1rl
