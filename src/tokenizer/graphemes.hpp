// Extended grapheme cluster boundaries (UAX #29 rules GB3-GB13, properties from ICU), as
// the `unicode-segmentation` crate finds them for Hugging Face's Precompiled normalizer.
// GB9c (Indic conjuncts) is not applied: ICU 72 lacks the InCB property, and such
// clusters are at least 9 UTF-8 bytes, beyond the 6-byte limit under which Precompiled
// looks clusters up whole, so they are handled character by character either way.
#pragma once

#include <cstddef>
#include <string>

namespace encore::tok {

// Length, in code points, of the grapheme cluster starting at s[begin] (begin < end).
std::size_t grapheme_length(const std::u32string& s, std::size_t begin, std::size_t end);

}  // namespace encore::tok
