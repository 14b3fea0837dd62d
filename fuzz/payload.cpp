// Fuzz target: the payload codec (byte_reader and codec.hpp), through the
// erased aggregates' decode as an entity actor replays stored events.
// Input: type name (u32 little-endian length, then the bytes) | payload (rest).
// Each sample aggregate (bank_account, example, tally) decodes it, and so does
// a fuzz-only event with one field of every supported type, and a fuzz-only
// event at schema version 2 that upcasts from version 1 (the input is at 1).
// Invariants: at most one of them knows the type name; a decoded event
// re-encodes to the same type name, payload bytes and schema version (the
// encoding is canonical); the version-2 event decodes exactly when its
// version-1 struct does, to that struct upcast; any other outcome is a
// decode_failure naming entity and version.

#include <string>
#include <tuple>
#include <variant>

#include "cafes/domain/erased_aggregate.hpp"
#include "cafes_samples/bank_account.hpp"
#include "cafes_samples/example.hpp"
#include "cafes_samples/tally.hpp"

#include "check.hpp"

using namespace cafes;
using namespace cafes_samples;

namespace {

/// One field of each type the codec supports (the samples use only some).
struct every_field {
  static constexpr std::string_view type_name = "fuzz.every_field";
  bool flag = false;
  std::uint8_t byte = 0;
  std::int16_t small = 0;
  std::uint32_t medium = 0;
  std::int64_t large = 0;
  std::string text;
  uuid id;
  auto fields() const { return std::tie(flag, byte, small, medium, large, text, id); }
};

using every_field_event = std::variant<every_field>;

/// What schema version 1 of `chained` stored.
struct chained_v1 {
  static constexpr std::string_view type_name = "fuzz.chained";
  std::string name;
  std::int32_t count = 0;
  auto fields() const { return std::tie(name, count); }
};

struct chained {
  static constexpr std::string_view type_name = "fuzz.chained";
  static constexpr std::uint32_t schema_version = 2;
  using upcasts_from = chained_v1;
  static chained upcast(chained_v1 old) { return {std::move(old.name), old.count, true}; }
  std::string name;
  std::int64_t count = 0;
  bool upcast_done = false;
  auto fields() const { return std::tie(name, count, upcast_done); }
};

void check_failure(const failure& error, const event_record& record) {
  FUZZ_CHECK(error.code == ec::decode_failure);
  FUZZ_CHECK(error.message.find(to_string(record.entity)) != std::string::npos);
  FUZZ_CHECK(error.message.find("version 7") != std::string::npos);
}

void check_encoded(const encoded_event& again, const event_record& record) {
  FUZZ_CHECK(again.type == record.type);
  FUZZ_CHECK(again.payload == record.payload);
  FUZZ_CHECK(again.schema_version == record.schema_version);
}

/// Returns 1 when aggregate `A` decoded `record`, 0 when it refused it.
template <aggregate A>
int decode_as(const event_record& record) {
  auto erased = erase<A>();
  auto decoded = erased->decode(record);
  if (!decoded) {
    check_failure(decoded.error(), record);
    return 0;
  }
  check_encoded(erased->encode(*decoded), record);
  return 1;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  event_record record;
  record.entity = uuid{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  record.version = 7;
  byte_reader reader{data, size};
  if (!reader.read(record.type))
    return 0;
  record.payload = reader.read_rest();

  int known = decode_as<bank::account>(record) + decode_as<example::entity>(record)
              + decode_as<tally::counter>(record);
  auto decoded = decode<every_field_event>(record);
  if (decoded) {
    check_encoded(encode(*decoded), record);
    ++known;
  } else {
    check_failure(decoded.error(), record);
  }
  auto old = decode<std::variant<chained_v1>>(record);
  auto upcast = decode<std::variant<chained>>(record);
  FUZZ_CHECK(old.ok() == upcast.ok());
  if (old) {
    check_encoded(encode(*old), record);
    const auto& was = std::get<chained_v1>(*old);
    const auto& now = std::get<chained>(*upcast);
    FUZZ_CHECK(now.name == was.name && now.count == was.count && now.upcast_done);
    ++known;
  } else {
    check_failure(old.error(), record);
    check_failure(upcast.error(), record);
  }
  FUZZ_CHECK(known <= 1);
  return 0;
}
