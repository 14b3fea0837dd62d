#include "database_directory.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cafes::database_directory {

namespace fs = std::filesystem;

namespace {

failure refuse(const std::string& path, const std::string& why) {
  return failure::make(ec::storage_unavailable,
                       "cannot open database at '" + path + "': " + why);
}

std::string marker_text(const uuid& id) {
  return "cafes database\nformat " + std::to_string(format_version) + "\nid "
         + to_string(id) + "\n";
}

/// Parses the marker. Returns its format and id, or nullopt when it is not
/// a cafes marker at all.
std::optional<std::pair<int, uuid>> parse_marker(const fs::path& file) {
  std::ifstream in{file};
  std::string title, format_word, id_word, id_text;
  int format = 0;
  if (!std::getline(in, title) || title != "cafes database")
    return std::nullopt;
  if (!(in >> format_word >> format) || format_word != "format")
    return std::nullopt;
  if (!(in >> id_word >> id_text) || id_word != "id")
    return std::nullopt;
  auto id = uuid::parse(id_text);
  if (!id)
    return std::nullopt;
  return std::pair{format, *id};
}

/// Writes `bytes` to `file` and syncs it. Returns errno on failure, 0 on success.
int write_synced(const fs::path& file, const std::string& bytes) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno;
  int error = 0;
  if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())
      || ::fsync(fd) != 0)
    error = errno != 0 ? errno : EIO;
  if (::close(fd) != 0 && error == 0)
    error = errno;
  return error;
}

int sync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  int error = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

std::mutex claims_mutex;
std::set<std::pair<std::uint64_t, std::uint64_t>> claimed; // device, inode

} // namespace

result<state> inspect(const std::string& path, bool read_only) {
  std::error_code error;
  auto status = fs::status(path, error);
  if (status.type() == fs::file_type::not_found) {
    if (read_only)
      return refuse(path, "no such directory");
    return state{true, {}};
  }
  if (error)
    return refuse(path, error.message());
  if (!fs::is_directory(status))
    return refuse(path, "not a directory");
  bool empty = true;
  bool has_marker = false;
  bool has_current = false;
  bool has_database_files = false;
  for (fs::directory_iterator it{path, error}, end; !error && it != end;
       it.increment(error)) {
    empty = false;
    auto name = it->path().filename().string();
    has_marker |= name == marker_name;
    has_current |= name == "CURRENT";
    has_database_files |= name.starts_with("MANIFEST-") || name.ends_with(".log")
                          || name.ends_with(".sst");
  }
  if (error)
    return refuse(path, "cannot list the directory: " + error.message());
  if (!has_marker) {
    if (empty) {
      if (read_only)
        return refuse(path, "the directory is empty: there is no database");
      return state{true, {}};
    }
    if (has_current)
      return refuse(path, "it holds a RocksDB database that cafes did not create (no "
                            + std::string{marker_name}
                            + " marker); cafes opens only its own databases and "
                              "wrote nothing there");
    return refuse(path, "the directory is not empty and is not a cafes database (no "
                          + std::string{marker_name}
                          + " marker); cafes wrote nothing there: give a new or "
                            "empty directory");
  }
  auto marker = parse_marker(fs::path{path} / marker_name);
  if (!marker)
    return refuse(path, "its " + std::string{marker_name}
                          + " file is not a cafes marker; cafes wrote nothing there");
  auto [format, id] = *marker;
  if (format == 1)
    return refuse(path, "it is a cafes database of format 1, made before the global "
                        "log; this build reads format "
                          + std::to_string(format_version)
                          + ". Nothing was changed. To move its events over, export "
                            "them with the cafes-admin that made it (cafes-admin "
                            "export) and import the file with this build's "
                            "cafes-admin import into a new database");
  if (format != format_version)
    return refuse(path, "it is a cafes database of format " + std::to_string(format)
                          + "; this build reads format "
                          + std::to_string(format_version));
  if (!has_current) {
    // RocksDB writes MANIFEST and log files before CURRENT: with none of
    // them, creation stopped before anything was stored.
    if (!has_database_files && !read_only)
      return state{true, id};
    return refuse(path,
                  "its CURRENT file is missing: the database is damaged, and cafes "
                  "never treats a damaged database as a new one. Nothing was changed. "
                  "To repair it, write the name of the newest MANIFEST-* file and a "
                  "newline into CURRENT (ls '"
                    + path + "'/MANIFEST-*; printf 'MANIFEST-NNNNNN\\n' > '" + path
                    + "/CURRENT'), then check it with cafes-admin verify --db '" + path
                    + "'");
  }
  return state{false, id};
}

result<done> ensure_exists(const std::string& path) {
  std::error_code error;
  if (!fs::exists(path, error) && !fs::create_directory(path, error) && error)
    return refuse(path, "cannot create the directory: " + error.message());
  return done{};
}

result<uuid> write_marker(const std::string& path) {
  std::error_code error;
  auto id = uuid::random();
  auto dir = fs::path{path};
  auto temporary = dir / (std::string{marker_name} + ".tmp");
  if (int failed = write_synced(temporary, marker_text(id)))
    return refuse(path, "cannot write its marker: " + std::string{std::strerror(failed)});
  fs::rename(temporary, dir / marker_name, error);
  if (error)
    return refuse(path, "cannot write its marker: " + error.message());
  if (int failed = sync_directory(dir))
    return refuse(path, "cannot sync the directory: " + std::string{std::strerror(failed)});
  return id;
}

claim::~claim() {
  std::lock_guard guard{claims_mutex};
  claimed.erase({device_, inode_});
}

result<std::unique_ptr<claim>> claim::take(const std::string& path) {
  struct stat info{};
  if (::stat(path.c_str(), &info) != 0)
    return refuse(path, std::strerror(errno));
  std::pair key{static_cast<std::uint64_t>(info.st_dev),
                static_cast<std::uint64_t>(info.st_ino)};
  std::lock_guard guard{claims_mutex};
  if (!claimed.insert(key).second)
    return refuse(path, "this process has it open already (perhaps under another "
                        "spelling of the path); one database takes one store");
  return std::unique_ptr<claim>{new claim(key.first, key.second)};
}

} // namespace cafes::database_directory
