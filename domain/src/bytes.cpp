#include "cafes/domain/bytes.hpp"

#include <algorithm>

namespace cafes {

namespace {

constexpr char base64_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

} // namespace

std::string to_base64(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t group = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6)
      out.push_back(base64_alphabet[(group >> shift) & 0x3f]);
  }
  if (auto rest = bytes.size() - i; rest > 0) {
    std::uint32_t group = bytes[i] << 16;
    if (rest == 2)
      group |= bytes[i + 1] << 8;
    out.push_back(base64_alphabet[(group >> 18) & 0x3f]);
    out.push_back(base64_alphabet[(group >> 12) & 0x3f]);
    out.push_back(rest == 2 ? base64_alphabet[(group >> 6) & 0x3f] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    int padding = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      std::uint32_t value = 0;
      if (c == '=') {
        // Only the last one or two characters of the text may be padding.
        if (i + 4 != text.size() || j < 2)
          return std::nullopt;
        ++padding;
      } else {
        if (padding > 0)
          return std::nullopt;
        const char* found = std::find(base64_alphabet, base64_alphabet + 64, c);
        if (found == base64_alphabet + 64)
          return std::nullopt;
        value = static_cast<std::uint32_t>(found - base64_alphabet);
      }
      group = (group << 6) | value;
    }
    out.push_back(static_cast<std::uint8_t>(group >> 16));
    if (padding < 2)
      out.push_back(static_cast<std::uint8_t>(group >> 8));
    if (padding < 1)
      out.push_back(static_cast<std::uint8_t>(group));
    // Canonical form only: the bits the padding drops must be zero.
    if ((padding == 1 && (group & 0xff) != 0) || (padding == 2 && (group & 0xffff) != 0))
      return std::nullopt;
  }
  return out;
}


void byte_writer::write_raw(const std::uint8_t* data, std::size_t size) {
  out_.insert(out_.end(), data, data + size);
}

} // namespace cafes
