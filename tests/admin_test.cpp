// Tools: what cafes-admin does besides verify: JSON lines export and import,
// stats, and recovering a database whose write-ahead log is damaged.

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <sstream>

#include "cafes/storage/rocksdb_verify.hpp"
#include "cafes/tools/admin.hpp"
#include "cafes/tools/admin_transfer.hpp"
#include "sample_database.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace cafes::testing;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<rocksdb_store> sample_store() {
  auto store = open_rocksdb("");
  sample::write(*store);
  return store;
}

std::string export_text(event_store& store) {
  std::ostringstream out;
  auto exported = admin::export_store(store, out);
  INFO((exported ? "" : to_string(exported.error())));
  REQUIRE(exported.ok());
  return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

std::vector<std::uint8_t> bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}

/// Every file of `directory` with its size and modification time.
std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>>
files_of(const std::string& directory) {
  std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> out;
  for (const auto& entry : fs::directory_iterator{directory})
    out[entry.path().filename().string()] = {entry.file_size(), entry.last_write_time()};
  return out;
}

} // namespace

TEST_CASE("base64 encodes the RFC 4648 vectors and decodes only canonical text",
          "[tools][admin]") {
  const std::vector<std::pair<std::string, std::string>> vectors{
    {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},      {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(admin::to_base64(bytes_of(plain)) == encoded);
    CHECK(admin::from_base64(encoded) == bytes_of(plain));
  }
  std::vector<std::uint8_t> every_byte;
  for (int i = 0; i < 256; ++i)
    every_byte.push_back(static_cast<std::uint8_t>(i));
  CHECK(admin::from_base64(admin::to_base64(every_byte)) == every_byte);
  for (auto bad : {"Zg=", "Z===", "Zh==", "Zm9=", "Zm9v!A==", "=Zg=", "Zg==Zg==", "Zm 9"})
    CHECK_FALSE(admin::from_base64(bad).has_value());
}

TEST_CASE("an event is one JSON line whose form is pinned", "[tools][admin]") {
  event_record record;
  record.entity = *uuid::parse("10000000-0000-4000-8000-000000000001");
  record.version = 2;
  record.id = *uuid::parse("ffeeddcc-bbaa-4988-8766-554433221100");
  record.type = "bank.deposited";
  record.payload = {0x64, 0, 0, 0, 0, 0, 0, 0};
  record.timestamp_ns = 1'700'000'000'123'456'789;
  record.position = 12;
  SECTION("with every field") {
    record.command_id = *uuid::parse("c0000000-0000-4000-8000-00000000000c");
    record.correlation_id = *uuid::parse("c0000000-0000-4000-8000-0000000000cc");
    record.causation_id = *uuid::parse("ca000000-0000-4000-8000-0000000000ca");
    const std::string line =
      R"({"entity":"10000000-0000-4000-8000-000000000001","version":2,"position":12,)"
      R"("id":"ffeeddcc-bbaa-4988-8766-554433221100","type":"bank.deposited",)"
      R"("payload_base64":"ZAAAAAAAAAA=","timestamp_ns":1700000000123456789,)"
      R"("command_id":"c0000000-0000-4000-8000-00000000000c",)"
      R"("correlation_id":"c0000000-0000-4000-8000-0000000000cc",)"
      R"("causation_id":"ca000000-0000-4000-8000-0000000000ca","aggregate":"bank_account"})";
    CHECK(*admin::to_json_line(record, "bank_account") == line);
    auto parsed = admin::parse_json_line(line);
    REQUIRE(parsed.ok());
    CHECK(parsed->record == record);
    CHECK(parsed->aggregate == "bank_account");
  }
  SECTION("nil ids and no aggregate are left out") {
    const std::string line =
      R"({"entity":"10000000-0000-4000-8000-000000000001","version":2,"position":12,)"
      R"("id":"ffeeddcc-bbaa-4988-8766-554433221100","type":"bank.deposited",)"
      R"("payload_base64":"ZAAAAAAAAAA=","timestamp_ns":1700000000123456789})";
    CHECK(*admin::to_json_line(record) == line);
    auto parsed = admin::parse_json_line(line);
    REQUIRE(parsed.ok());
    CHECK(parsed->record == record);
    CHECK(parsed->aggregate.empty());
  }
  SECTION("a schema version other than 1 is written after the type, and read") {
    record.schema_version = 3;
    const std::string line =
      R"({"entity":"10000000-0000-4000-8000-000000000001","version":2,"position":12,)"
      R"("id":"ffeeddcc-bbaa-4988-8766-554433221100","type":"bank.deposited",)"
      R"("schema_version":3,)"
      R"("payload_base64":"ZAAAAAAAAAA=","timestamp_ns":1700000000123456789})";
    CHECK(*admin::to_json_line(record) == line);
    auto parsed = admin::parse_json_line(line);
    REQUIRE(parsed.ok());
    CHECK(parsed->record == record);
    for (auto wrong : {"0", "-1", "4294967296", "\"3\"", "1.5"}) {
      auto bad = line;
      bad.replace(bad.find(":3,"), 3, std::string{":"} + wrong + ",");
      auto refused = admin::parse_json_line(bad);
      REQUIRE_FALSE(refused.ok());
      CHECK_THAT(refused.error().message, Catch::Contains("'schema_version'"));
    }
  }
  SECTION("a line of a format 1 export, which has no position, parses") {
    const std::string line =
      R"({"entity":"10000000-0000-4000-8000-000000000001","version":2,)"
      R"("id":"ffeeddcc-bbaa-4988-8766-554433221100","type":"bank.deposited",)"
      R"("payload_base64":"ZAAAAAAAAAA=","timestamp_ns":1700000000123456789})";
    auto parsed = admin::parse_json_line(line);
    REQUIRE(parsed.ok());
    record.position = 0;
    CHECK(parsed->record == record);
  }
}

TEST_CASE("a malformed JSON line is refused, saying what is wrong", "[tools][admin]") {
  const std::string entity = R"("entity":"10000000-0000-4000-8000-000000000001")";
  const std::string rest = R"("id":"ffeeddcc-bbaa-4988-8766-554433221100","type":"t",)"
                           R"("payload_base64":"","timestamp_ns":5)";
  auto line_with = [&](const std::string& version) {
    return "{" + entity + ",\"version\":" + version + "," + rest + "}";
  };
  const std::vector<std::pair<std::string, std::string>> cases{
    {"not json", "not valid JSON"},
    {"[1, 2]", "not a JSON object"},
    {"{" + entity + "," + rest + "}", "the field 'version' is missing"},
    {"{" + entity + ",\"version\":1,\"extra\":0," + rest + "}", "unexpected field 'extra'"},
    {line_with("0"), "'version' is not a whole number of 1 or more"},
    {line_with("-1"), "'version' is not a whole number"},
    {line_with("\"1\""), "'version' is not a whole number"},
    {line_with("1.5"), "'version' is not a whole number"},
    {R"({"entity":"x","version":1,)" + rest + "}", "'entity' is not a UUID"},
    {"{" + entity + R"(,"version":1,"id":7,"type":"t","payload_base64":"",)"
       + R"("timestamp_ns":5})",
     "'id' is not a UUID"},
    {"{" + entity + R"(,"version":1,"id":"ffeeddcc-bbaa-4988-8766-554433221100",)"
       + R"("type":"","payload_base64":"","timestamp_ns":5})",
     "'type' is not a non-empty string"},
    {"{" + entity + R"(,"version":1,"id":"ffeeddcc-bbaa-4988-8766-554433221100",)"
       + R"("type":"t","payload_base64":"!!","timestamp_ns":5})",
     "'payload_base64' is not base64"},
    {"{" + entity + R"(,"version":1,"id":"ffeeddcc-bbaa-4988-8766-554433221100",)"
       + R"("type":"t","payload_base64":"","timestamp_ns":18446744073709551615})",
     "'timestamp_ns' is not a 64-bit integer"},
    {"{" + entity + ",\"version\":1,\"position\":0," + rest + "}",
     "'position' is not a whole number of 1 or more"},
    {"{" + entity + ",\"version\":1,\"position\":\"7\"," + rest + "}",
     "'position' is not a whole number"},
    {"{" + entity + ",\"version\":1," + rest + ",\"command_id\":\"x\"}",
     "'command_id' is not a UUID"},
    {"{" + entity + ",\"version\":1," + rest + ",\"causation_id\":null}",
     "'causation_id' is not a UUID"},
    {"{" + entity + ",\"version\":1," + rest + ",\"aggregate\":7}",
     "'aggregate' is not a string"},
  };
  CHECK(admin::parse_json_line(line_with("1")).ok());
  for (const auto& [line, says] : cases) {
    CAPTURE(line);
    auto parsed = admin::parse_json_line(line);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == ec::decode_failure);
    CHECK_THAT(parsed.error().message, Catch::Contains(says));
  }
}

TEST_CASE("export, import into an empty store and export again give the same lines",
          "[tools][admin]") {
  auto source = sample_store();
  auto first = export_text(*source);
  CHECK(lines_of(first).size() == sample::events);
  auto target = open_rocksdb("");
  std::istringstream in{first};
  admin::import_options options;
  options.batch_events = GENERATE(1, 2, 4'096); // group commits of every size
  auto report = admin::import_store(*target, in, options);
  INFO((report.error ? to_string(*report.error) : ""));
  CHECK_FALSE(report.error);
  CHECK(report.lines == sample::events);
  CHECK(report.entities == sample::entities);
  CHECK(report.events == sample::events);
  CHECK(export_text(*target) == first);
  // Positions, ids and metadata too.
  for (const auto& entity : {sample::account, sample::widget, sample::tally})
    CHECK(*target->read(entity) == *source->read(entity));
  CHECK(target->read(sample::account)->at(1).command_id
        == *uuid::parse("c0000000-0000-4000-8000-00000000000c"));
  CHECK(*target->last_position() == sample::events);
}

TEST_CASE("export goes in global position order, across entities", "[tools][admin]") {
  auto store = open_rocksdb("");
  auto event = [] { return sample::record(bank::account::event{bank::deposited{1}}); };
  auto opened = [] { return sample::record(bank::account::event{bank::opened{"x"}}); };
  // Positions: stranger 1, account 2, stranger 3 (ids in the other order).
  REQUIRE(store->append({sample::stranger, 0, {opened()}}).ok());
  REQUIRE(store->append({sample::account, 0, {opened()}}).ok());
  REQUIRE(store->append({sample::stranger, 1, {event()}}).ok());
  auto lines = lines_of(export_text(*store));
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[0], Catch::StartsWith(R"({"entity":")" + to_string(sample::stranger)
                                         + R"(","version":1,"position":1,)"));
  CHECK_THAT(lines[1], Catch::StartsWith(R"({"entity":")" + to_string(sample::account)
                                         + R"(","version":1,"position":2,)"));
  CHECK_THAT(lines[2], Catch::StartsWith(R"({"entity":")" + to_string(sample::stranger)
                                         + R"(","version":2,"position":3,)"));
}

TEST_CASE("import reads an export of format 1 and gives positions in line order",
          "[tools][admin]") {
  auto source = sample_store();
  // What the format 1 cafes-admin wrote: entities in id order, no position,
  // no command, correlation or causation ids.
  std::string old_export;
  std::vector<event_record> expected;
  for (const auto& entity : {sample::account, sample::widget, sample::tally}) {
    auto events = source->read(entity); // named: a temporary would not outlive the loop
    REQUIRE(events.ok());
    for (auto event : *events) {
      event.position = 0;
      event.command_id = event.correlation_id = event.causation_id = uuid{};
      old_export += *admin::to_json_line(event) + "\n";
      event.position = expected.size() + 1;
      expected.push_back(event);
    }
  }
  REQUIRE(old_export.find("position") == std::string::npos);
  auto target = open_rocksdb("");
  std::istringstream in{old_export};
  auto report = admin::import_store(*target, in);
  INFO((report.error ? to_string(*report.error) : ""));
  CHECK_FALSE(report.error);
  CHECK(report.events == sample::events);
  auto all = target->read_all(0, 100);
  REQUIRE(all.ok());
  CHECK(all->events == expected);
}

TEST_CASE("import passes a line's aggregate to the store's global log", "[tools][admin]") {
  auto text = export_text(*sample_store());
  auto lines = lines_of(text);
  REQUIRE(lines.size() == sample::events);
  // Lines 1-3 are the account's, 4-5 the widget's.
  auto with_aggregate = [](std::string line, const std::string& name) {
    line.pop_back(); // the closing brace
    return line + R"(,"aggregate":")" + name + "\"}";
  };
  std::string input;
  for (std::size_t i = 0; i < lines.size(); ++i)
    input += (i < 3 ? with_aggregate(lines[i], "bank_account")
                    : i < 5 ? with_aggregate(lines[i], "example") : lines[i])
             + "\n";
  auto target = open_rocksdb("");
  std::istringstream in{input};
  auto report = admin::import_store(*target, in);
  INFO((report.error ? to_string(*report.error) : ""));
  REQUIRE_FALSE(report.error);
  auto positions_of = [&](const std::string& aggregate) {
    std::vector<std::uint64_t> out;
    auto page = target->read_all(0, 100, {{aggregate}, {}});
    REQUIRE(page.ok());
    for (const auto& event : page->events)
      out.push_back(event.position);
    return out;
  };
  CHECK(positions_of("bank_account") == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(positions_of("example") == std::vector<std::uint64_t>{4, 5});
  CHECK(positions_of("") == std::vector<std::uint64_t>{6, 7});
}

TEST_CASE("import accepts interleaved entities and blank lines", "[tools][admin]") {
  auto lines = lines_of(export_text(*sample_store()));
  REQUIRE(lines.size() == 7);
  // account 1, widget 1, account 2, (blank), tally 1, account 3, widget 2, tally 2
  auto text = lines[0] + "\n" + lines[3] + "\n" + lines[1] + "\n  \n" + lines[5] + "\n"
              + lines[2] + "\n" + lines[4] + "\n" + lines[6] + "\n";
  auto target = open_rocksdb("");
  std::istringstream in{text};
  auto report = admin::import_store(*target, in);
  CHECK_FALSE(report.error);
  CHECK(report.lines == 8);
  CHECK(report.events == sample::events);
  // The export follows the new positions: the order of the input.
  std::vector<std::string> expected;
  for (auto index : {0, 3, 1, 5, 2, 4, 6}) {
    auto record = admin::parse_json_line(lines[index])->record;
    record.position = expected.size() + 1;
    expected.push_back(*admin::to_json_line(record));
  }
  CHECK(lines_of(export_text(*target)) == expected);
}

TEST_CASE("import into a store that holds an entity imports nothing", "[tools][admin]") {
  auto text = export_text(*sample_store());
  auto target = open_rocksdb("");
  REQUIRE(target->append({sample::stranger, 0, {sample::record(bank::account::event{
                                                  bank::opened{"bob"}})}})
            .ok());
  std::istringstream in{text};
  auto report = admin::import_store(*target, in);
  REQUIRE(report.error);
  CHECK(report.error->code == ec::invalid_argument);
  CHECK_THAT(report.error->message, Catch::Contains("already holds entities"));
  CHECK(report.lines == 0);
  CHECK(*target->list_entities(std::nullopt, 10)
        == std::vector<entity_id>{sample::stranger});
}

TEST_CASE("import stops at a bad line, naming it, and keeps every line before it",
          "[tools][admin]") {
  const std::size_t batch_events = GENERATE(1, 4'096);
  auto lines = lines_of(export_text(*sample_store()));
  std::string bad_line;
  std::string says;
  SECTION("a line that does not parse") {
    bad_line = R"({"entity":"10000000-0000-4000-8000-000000000001"})";
    says = "line 3: the field 'version' is missing";
  }
  SECTION("a version that is not the entity's next") {
    bad_line = lines[2];
    bad_line.replace(bad_line.find("\"version\":3"), 11, "\"version\":4");
    says = "line 3: entity " + to_string(sample::account)
           + " version 4 where version 3 was expected";
  }
  auto text = lines[0] + "\n" + lines[1] + "\n" + bad_line + "\n" + lines[3] + "\n";
  auto target = open_rocksdb("");
  std::istringstream in{text};
  admin::import_options options;
  options.batch_events = batch_events;
  auto report = admin::import_store(*target, in, options);
  REQUIRE(report.error);
  CHECK(report.error->code == ec::decode_failure);
  CHECK_THAT(report.error->message, Catch::StartsWith(says));
  CHECK(report.lines == 3);
  CHECK(report.entities == 1);
  CHECK(report.events == 2);
  CHECK(target->read(sample::account)->size() == 2);
  CHECK(target->list_entities(std::nullopt, 10)->size() == 1);
}

TEST_CASE("export stops at a damaged entity, naming it", "[tools][admin]") {
  temp_dir dir;
  auto path = dir.sub("db");
  sample::write(*open_rocksdb(path));
  sample::write_damage(path, "gap");
  auto store = open_rocksdb(path, true);
  std::ostringstream out;
  auto exported = admin::export_store(*store, out);
  REQUIRE_FALSE(exported.ok());
  CHECK(exported.error().code == ec::decode_failure);
  CHECK_THAT(exported.error().message, Catch::Contains(to_string(sample::account)));
}

TEST_CASE("export reports an output it cannot write", "[tools][admin]") {
  auto store = sample_store();
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  auto exported = admin::export_store(*store, out);
  REQUIRE_FALSE(exported.ok());
  CHECK(exported.error().code == ec::storage_failure);
}

TEST_CASE("stats counts entities, events, types and keys cafes does not write",
          "[tools][admin]") {
  temp_dir dir;
  auto path = dir.sub("db");
  sample::write(*open_rocksdb(path));
  sample::write_damage(path, "foreign-key");
  auto store = open_rocksdb(path, true);
  auto found = admin::stats(*store);
  REQUIRE(found.ok());
  CHECK(found->entities == sample::entities);
  CHECK(found->events == sample::events);
  CHECK(found->log_entries == sample::events);
  CHECK(found->last_position == sample::events);
  CHECK(found->other_keys == 1); // the global log's keys are cafes keys
  CHECK(found->longest_history == 3);
  CHECK(found->bytes == directory_bytes(path));
  CHECK(found->events_by_type
        == std::map<std::string, std::uint64_t>{{"bank.opened", 1},
                                                {"bank.deposited", 1},
                                                {"bank.withdrawn", 1},
                                                {"example.created", 1},
                                                {"example.attribute_changed", 1},
                                                {"tally.added", 2}});
}

TEST_CASE("recover keeps a damaged log's intact prefix and a normal open works after",
          "[tools][admin][damage]") {
  temp_dir dir;
  auto path = dir.sub("db");
  sample::write_damaged_wal(path, 200);
  rocksdb_options normal;
  normal.path = path;
  auto refused = rocksdb_store::open(normal);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("cafes-admin recover"));
  auto recovered = admin::recover(path);
  INFO((recovered ? "" : to_string(recovered.error())));
  REQUIRE(recovered.ok());
  CHECK(recovered->recovered);
  CHECK(recovered->entities == sample::entities);
  CHECK(recovered->events >= sample::events);
  CHECK(recovered->events < sample::events + 200);
  {
    auto store = rocksdb_store::open(normal); // writable, normal recovery
    INFO((store ? "" : to_string(store.error())));
    REQUIRE(store.ok());
    CHECK(*(*store)->head(sample::tally) == recovered->events - 5);
  }
  verify_options options;
  options.aggregates = admin::known_aggregates();
  auto report = verify(*open_rocksdb(path, true), options);
  CHECK(report.ok());
  CHECK(report.events == recovered->events);
}

TEST_CASE("recover leaves a database that opens normally untouched", "[tools][admin]") {
  temp_dir dir;
  auto path = dir.sub("db");
  sample::write(*open_rocksdb(path));
  auto before = files_of(path);
  auto report = admin::recover(path);
  REQUIRE(report.ok());
  CHECK_FALSE(report->recovered);
  CHECK(report->entities == sample::entities);
  CHECK(report->events == sample::events);
  CHECK(files_of(path) == before);
}

TEST_CASE("recover never creates a database", "[tools][admin]") {
  temp_dir dir;
  fs::create_directory(dir.sub("empty"));
  for (const auto& path : {dir.sub("missing"), dir.sub("empty")}) {
    auto report = admin::recover(path);
    REQUIRE_FALSE(report.ok());
    CHECK(report.error().code == ec::storage_unavailable);
    CHECK((!fs::exists(path) || fs::is_empty(path)));
  }
}
