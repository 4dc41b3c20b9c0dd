#include <gtest/gtest.h>

#include "core/utf8.hpp"
#include "encore/error.hpp"

namespace encore {
namespace {

TEST(Utf8, DecodesAllLengths) {
  EXPECT_EQ(utf8::decode("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"),
            (std::u32string{U'a', 0xE9, 0x4E2D, 0x1F600}));
  EXPECT_EQ(utf8::encode(std::u32string{U'a', 0xE9, 0x4E2D, 0x1F600}),
            "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80");
}

TEST(Utf8, RejectsInvalidSequencesWithByteOffset) {
  struct Case {
    std::string bytes;
    std::size_t offset;
  };
  const Case cases[] = {
      {"ab\xFF", 2},               // invalid lead byte
      {"abc\xC3", 3},              // truncated sequence
      {"\xC0\xAF", 0},             // overlong '/'
      {"x\xED\xA0\x80", 1},        // UTF-16 surrogate
      {"xy\xF4\x90\x80\x80", 2},   // beyond U+10FFFF
      {"\xE4\xB8", 0},             // truncated 3-byte
      {"ok\x80", 2},               // stray continuation byte
  };
  for (const auto& c : cases) {
    EXPECT_EQ(utf8::find_invalid(c.bytes), c.offset) << c.bytes;
    try {
      utf8::decode(c.bytes);
      ADD_FAILURE() << "no error for invalid UTF-8";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("byte offset " + std::to_string(c.offset)),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(utf8::find_invalid("plain ascii \xC3\xA9"), std::string::npos);
}

}  // namespace
}  // namespace encore
