#include "cafes/domain/uuid.hpp"

#include <array>
#include <random>
#include <vector>

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

/// SHA-1 (FIPS 180-4) of `data`: only for name-based UUIDs, which RFC 4122
/// defines with it; not for anything that needs collision resistance
/// against an attacker.
std::array<std::uint8_t, 20> sha1(const std::vector<std::uint8_t>& data) {
  std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  auto message = data;
  auto bit_length = static_cast<std::uint64_t>(data.size()) * 8;
  message.push_back(0x80);
  while (message.size() % 64 != 56)
    message.push_back(0);
  for (int shift = 56; shift >= 0; shift -= 8)
    message.push_back(static_cast<std::uint8_t>(bit_length >> shift));
  auto rotl = [](std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  for (std::size_t block = 0; block < message.size(); block += 64) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i)
      w[i] = (std::uint32_t{message[block + 4 * i]} << 24)
             | (std::uint32_t{message[block + 4 * i + 1]} << 16)
             | (std::uint32_t{message[block + 4 * i + 2]} << 8)
             | std::uint32_t{message[block + 4 * i + 3]};
    for (int i = 16; i < 80; ++i)
      w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    auto a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f = 0, k = 0;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      auto next = rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = next;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::array<std::uint8_t, 20> digest{};
  for (int i = 0; i < 20; ++i)
    digest[i] = static_cast<std::uint8_t>(h[i / 4] >> (24 - 8 * (i % 4)));
  return digest;
}

} // namespace

uuid uuid::name_based(const uuid& space, std::string_view name) {
  std::vector<std::uint8_t> data;
  data.reserve(16 + name.size());
  for (int shift = 56; shift >= 0; shift -= 8)
    data.push_back(static_cast<std::uint8_t>(space.high >> shift));
  for (int shift = 56; shift >= 0; shift -= 8)
    data.push_back(static_cast<std::uint8_t>(space.low >> shift));
  data.insert(data.end(), name.begin(), name.end());
  auto digest = sha1(data);
  uuid id;
  for (int i = 0; i < 8; ++i) {
    id.high = (id.high << 8) | digest[i];
    id.low = (id.low << 8) | digest[8 + i];
  }
  id.high = (id.high & ~0xF000ULL) | 0x5000ULL;            // version 5
  id.low = (id.low & 0x3FFFFFFFFFFFFFFFULL) | (1ULL << 63); // RFC 4122 variant
  return id;
}

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
