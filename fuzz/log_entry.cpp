// Fuzz target: the global log's entry values (decode_log_entry), as read
// from disk by read_all and verify; the same bytes as a view checkpoint
// (decode_view_checkpoint), which must re-encode alike or fail cleanly.
// Input: one value, decoded as the entry at position 42.
// Invariants: an entry that decodes has a version of 1 or more and
// re-encodes to the same bytes; one that does not is a decode_failure
// naming the position.

#include "cafes/storage/rocksdb_layout.hpp"

#include "check.hpp"

using namespace cafes;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto value = fuzz::as_text(data, size);
  auto entry = rocksdb_layout::decode_log_entry(42, value);
  if (entry) {
    FUZZ_CHECK(entry->version >= 1);
    FUZZ_CHECK(rocksdb_layout::encode_log_entry(*entry) == value);
  } else {
    FUZZ_CHECK(entry.error().code == ec::decode_failure);
    FUZZ_CHECK(entry.error().message.find("position 42") != std::string::npos);
  }
  auto checkpoint = rocksdb_layout::decode_view_checkpoint(value);
  if (checkpoint) {
    FUZZ_CHECK(!checkpoint->name.empty());
    FUZZ_CHECK(rocksdb_layout::encode_view_checkpoint(checkpoint->name, checkpoint->checkpoint)
               == value);
  } else {
    FUZZ_CHECK(checkpoint.error().code == ec::decode_failure);
  }
  return 0;
}
