#include "cafes/domain/uuid.hpp"

#include <random>

namespace cafes {

namespace {

std::mt19937_64& thread_generator() {
  thread_local std::mt19937_64 generator{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64{seed};
  }()};
  return generator;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

uuid uuid::random() {
  auto& generator = thread_generator();
  uuid id{generator(), generator()};
  id.high = (id.high & ~0xF000ULL) | 0x4000ULL;            // version 4
  id.low = (id.low & 0x3FFFFFFFFFFFFFFFULL) | (1ULL << 63); // RFC 4122 variant
  return id;
}

std::optional<uuid> uuid::parse(std::string_view text) {
  if (text.size() != 36)
    return std::nullopt;
  uuid id;
  int digits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-')
        return std::nullopt;
      continue;
    }
    auto value = hex_value(text[i]);
    if (value < 0)
      return std::nullopt;
    auto& half = digits < 16 ? id.high : id.low;
    half = (half << 4) | static_cast<std::uint64_t>(value);
    ++digits;
  }
  return id;
}

std::string to_string(const uuid& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20)
      out.push_back('-');
    auto half = i < 16 ? id.high : id.low;
    auto shift = 60 - 4 * (i % 16);
    out.push_back(digits[(half >> shift) & 0xF]);
  }
  return out;
}

} // namespace cafes
