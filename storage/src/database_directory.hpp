#pragma once
// The directory of an on-disk RocksDB store: whether it is a cafes database,
// a new one, or something cafes must not touch; and the claim that keeps one
// directory from being opened twice by one process, however it is spelled.
// Internal to the RocksDB store.

#include <cstdint>
#include <memory>
#include <string>

#include "cafes/domain/result.hpp"

namespace cafes::database_directory {

/// The on-disk format this build reads and writes.
inline constexpr int format_version = 2;

/// The marker file every cafes database holds from the moment it is created.
inline constexpr const char* marker_name = "CAFES";

/// What `inspect` found.
struct state {
  /// True when the directory holds no database yet (missing, empty, or a
  /// creation that stopped before RocksDB wrote anything): open creates one.
  bool create = false;
  /// The database's id from its marker (nil for a new directory until
  /// `write_marker`).
  uuid id;
};

/// Looks at `path` without writing anything. Returns whether to create a
/// database there, or an error (ec::storage_unavailable, naming the path):
/// not a directory; a non-empty directory without a cafes marker (any other
/// data, a foreign RocksDB database); a marker of another format; a cafes
/// database whose CURRENT file is missing (damaged: never recreated).
/// `read_only` refuses a directory that holds no database.
result<state> inspect(const std::string& path, bool read_only);

/// Creates the directory `path` when missing; its parent must exist.
/// Errors: ec::storage_unavailable.
result<done> ensure_exists(const std::string& path);

/// Writes the marker of a new database into the directory `path` with a new
/// id, durably (temporary file, fsync, rename, fsync of the directory).
/// Returns the id. Errors: ec::storage_unavailable.
result<uuid> write_marker(const std::string& path);

/// While alive, `path`'s directory (by device and inode) is claimed by one
/// writable store of this process.
class claim {
public:
  ~claim();
  claim(const claim&) = delete;
  claim& operator=(const claim&) = delete;

  /// Claims the existing directory `path`. Errors: ec::storage_unavailable
  /// when a store of this process has it open already (under any spelling:
  /// trailing slash, `.` components, a symlink), or it cannot be examined.
  static result<std::unique_ptr<claim>> take(const std::string& path);

private:
  claim(std::uint64_t device, std::uint64_t inode)
    : device_(device), inode_(inode) {}
  std::uint64_t device_;
  std::uint64_t inode_;
};

} // namespace cafes::database_directory
