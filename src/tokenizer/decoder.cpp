#include "tokenizer/decoder.hpp"

namespace encore::tok {
namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

}  // namespace

std::string cleanup_tokenization(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},     {" ?", "?"},     {" !", "!"},         {" ,", ","},
      {" ' ", "'"},    {" n't", "n't"}, {" 'm", "'m"},       {" do not", " don't"},
      {" 's", "'s"},   {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) replace_all(s, from, to);
  return s;
}

std::string WordPieceDecoder::decode(const std::vector<std::string>& tokens) const {
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string t = tokens[i];
    if (i != 0) {
      if (!prefix.empty() && t.compare(0, prefix.size(), prefix) == 0) {
        t.erase(0, prefix.size());
      } else {
        t = " " + t;
      }
    }
    if (cleanup) t = cleanup_tokenization(std::move(t));
    out += t;
  }
  return out;
}

}  // namespace encore::tok
