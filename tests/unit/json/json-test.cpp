// Unit tests of lib/json: parsing (escapes, surrogate pairs, numbers), dump/parse round trip and
// the errors a malformed document gives.
#include <gtest/gtest.h>

#include "lib/json/json.h"

using namespace k1rl;

TEST(Json, ParsesAndDumps) {
  Json j = Json::parse(R"({"a": [1, 2.5, -3e2, true, null], "s": "q\"\\\u00e9\ud83d\ude00\n",
                          "o": {}, "e": []})");
  EXPECT_EQ(j["a"].at(0).as_int(), 1);
  EXPECT_DOUBLE_EQ(j["a"].at(2).as_number(), -300.0);
  EXPECT_TRUE(j["a"].at(3).as_bool());
  EXPECT_TRUE(j["a"].at(4).is_null());
  EXPECT_EQ(j["s"].as_string(), "q\"\\\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_TRUE(j["missing"].is_null());
  Json back = Json::parse(j.dump(2));
  EXPECT_EQ(back.dump(), j.dump());
  EXPECT_THROW(Json::parse("{\"a\": }"), InputError);
  EXPECT_THROW(Json::parse("[1, 2"), InputError);
  EXPECT_THROW(Json::parse("{} x"), InputError);
}
