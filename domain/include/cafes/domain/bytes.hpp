#pragma once
// Little helpers to write and read fixed-layout binary data with bounds checks.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "cafes/domain/uuid.hpp"

namespace cafes {

/// Appends values to a byte buffer: integers little-endian at their own width,
/// strings as a 32-bit length followed by the bytes, UUIDs as 16 bytes.
class byte_writer {
public:
  explicit byte_writer(std::vector<std::uint8_t>& out) : out_(out) {}

  template <class Int>
    requires std::is_integral_v<Int>
  void write(Int value) {
    using unsigned_type = std::make_unsigned_t<Int>;
    auto bits = static_cast<unsigned_type>(value);
    std::uint8_t bytes[sizeof(Int)];
    for (std::size_t i = 0; i < sizeof(Int); ++i)
      bytes[i] = static_cast<std::uint8_t>(bits >> (8 * i));
    write_raw(bytes, sizeof(Int));
  }

  void write(bool value) {
    std::uint8_t byte = value ? 1 : 0;
    write_raw(&byte, 1);
  }

  void write(std::string_view text) {
    write(static_cast<std::uint32_t>(text.size()));
    write_raw(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  }

  void write(const std::string& text) { write(std::string_view{text}); }

  void write(const uuid& id) {
    write_big_endian(id.high);
    write_big_endian(id.low);
  }

  void write_big_endian(std::uint64_t value) {
    std::uint8_t bytes[8];
    for (int i = 0; i < 8; ++i)
      bytes[i] = static_cast<std::uint8_t>(value >> (56 - 8 * i));
    write_raw(bytes, 8);
  }

  /// Appends `size` bytes from `data`. Out of line on purpose: inlined into
  /// the callers, GCC 12 at -O3 reports false overflows in vector growth.
  void write_raw(const std::uint8_t* data, std::size_t size);

private:
  std::vector<std::uint8_t>& out_;
};

/// Reads what `byte_writer` wrote. Every read returns false (and leaves the
/// target unspecified) when the input is too short; nothing reads past the end.
class byte_reader {
public:
  byte_reader(const std::uint8_t* data, std::size_t size)
    : data_(data), size_(size) {}

  template <class Int>
    requires std::is_integral_v<Int>
  [[nodiscard]] bool read(Int& value) {
    if (remaining() < sizeof(Int))
      return false;
    std::make_unsigned_t<Int> bits = 0;
    for (std::size_t i = 0; i < sizeof(Int); ++i)
      bits |= static_cast<std::make_unsigned_t<Int>>(data_[pos_ + i]) << (8 * i);
    pos_ += sizeof(Int);
    value = static_cast<Int>(bits);
    return true;
  }

  [[nodiscard]] bool read(bool& value) {
    if (remaining() < 1 || data_[pos_] > 1)
      return false;
    value = data_[pos_++] == 1;
    return true;
  }

  [[nodiscard]] bool read(std::string& text) {
    std::uint32_t size = 0;
    if (!read(size) || remaining() < size)
      return false;
    text.assign(reinterpret_cast<const char*>(data_ + pos_), size);
    pos_ += size;
    return true;
  }

  [[nodiscard]] bool read(uuid& id) {
    return read_big_endian(id.high) && read_big_endian(id.low);
  }

  [[nodiscard]] bool read_big_endian(std::uint64_t& value) {
    if (remaining() < 8)
      return false;
    value = 0;
    for (int i = 0; i < 8; ++i)
      value = (value << 8) | data_[pos_ + i];
    pos_ += 8;
    return true;
  }

  /// Returns the unread bytes and consumes them.
  std::vector<std::uint8_t> read_rest() {
    std::vector<std::uint8_t> rest(data_ + pos_, data_ + size_);
    pos_ = size_;
    return rest;
  }

  std::size_t remaining() const noexcept { return size_ - pos_; }
  std::size_t position() const noexcept { return pos_; }

private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// Returns `bytes` in standard base64 (RFC 4648, with padding).
std::string to_base64(const std::vector<std::uint8_t>& bytes);

/// Decodes standard base64 (padding required). Returns nullopt on any other
/// character, a wrong length, bad padding or non-zero padding bits (only
/// the canonical text of some bytes decodes).
std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text);

} // namespace cafes
