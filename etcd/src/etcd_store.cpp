#include "cafes/etcd/etcd_store.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_set>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <grpcpp/grpcpp.h>

#include "cafes/domain/bytes.hpp"
#include "cafes/storage/rocksdb_layout.hpp"
#include "etcd_min.grpc.pb.h"

namespace cafes {

namespace layout = rocksdb_layout;
using clock_type = std::chrono::steady_clock;
using namespace etcdserverpb;

namespace {

/// The smallest key after every key that starts with `prefix`.
std::string range_end_of(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = prefix.back();
    if (static_cast<unsigned char>(last) != 0xff) {
      last = static_cast<char>(static_cast<unsigned char>(last) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0'); // etcd: every key
}

/// The smallest key after `key`.
std::string key_after(std::string key) {
  key.push_back('\0');
  return key;
}

std::string endpoint_list(const std::vector<std::string>& endpoints) {
  std::string out;
  for (const auto& endpoint : endpoints)
    out += (out.empty() ? "" : ",") + endpoint;
  return out;
}

// -- the one boundary where gRPC's and etcd's status codes become ours ----

/// What a failed call means for a write.
enum class call_outcome {
  /// Refused for good (a limit, the quota): nothing was applied.
  refused,
  /// Did not reach the cluster's leader (no member answers, no leader):
  /// nothing was applied; worth another try.
  not_applied,
  /// The answer is lost (a deadline, a member that died meanwhile): the
  /// transaction may still commit; worth another try that tells.
  maybe_applied,
};

bool says(const grpc::Status& status, std::string_view text) {
  return status.error_message().find(text) != std::string::npos;
}

call_outcome classify(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::NOT_FOUND:
      return call_outcome::refused;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return says(status, "too many requests") ? call_outcome::not_applied
                                               : call_outcome::refused;
    case grpc::StatusCode::UNAVAILABLE:
      // etcd's "no leader" comes before a proposal is made (we ask for it
      // with the "hasleader" metadata); gRPC's connect failures come before
      // the request is sent.
      if (says(status, "no leader") || says(status, "failed to connect")
          || says(status, "connections to all backends failing")
          || says(status, "Connection refused"))
        return call_outcome::not_applied;
      return call_outcome::maybe_applied;
    default:
      return call_outcome::maybe_applied;
  }
}

/// Returns our failure for a call that failed with `status`; `what` says
/// what the call was for.
failure to_failure(const grpc::Status& status, const std::string& what) {
  auto text = "etcd: " + what + ": " + status.error_message() + " (gRPC status "
              + std::to_string(static_cast<int>(status.error_code())) + ")";
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return failure::make(ec::invalid_argument, text);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      if (says(status, "larger than max"))
        return failure::make(ec::invalid_argument, text);
      if (says(status, "too many requests"))
        return failure::make(ec::storage_unavailable, text);
      return failure::make(ec::storage_failure, text); // the space quota
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return failure::make(ec::storage_unavailable, text);
    default:
      return failure::make(ec::storage_failure, text);
  }
}

/// Returns the text of PEM file `path` (`what` names it in errors), which
/// must hold a block whose "-----BEGIN " line ends with `kind`. Only the
/// labels are checked, not the contents: a damaged block, or a key that
/// does not match its certificate, fails each connection later.
/// Errors: `ec::invalid_argument` when it cannot be read, holds no such
/// block, or holds an encrypted key (gRPC takes no passphrase), all of
/// which gRPC would otherwise report only as a failed connection.
result<std::string> read_pem(const std::string& path, const std::string& what,
                             std::string_view kind) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return failure::make(ec::invalid_argument, "etcd: cannot read the " + what + " '" + path
                                                 + "': " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  auto pem = std::move(text).str();
  for (auto begin = pem.find("-----BEGIN "); begin != std::string::npos;
       begin = pem.find("-----BEGIN ", begin + 1)) {
    auto end = pem.find("-----", begin + 11);
    if (end == std::string::npos)
      break;
    auto label = std::string_view{pem}.substr(begin + 11, end - begin - 11);
    if (!label.ends_with(kind))
      continue;
    auto block_end = pem.find("-----END ", end);
    if (label.starts_with("ENCRYPTED")
        || std::string_view{pem}.substr(end, block_end - end).find("ENCRYPTED")
             != std::string_view::npos) // PKCS#8 or the older Proc-Type header
      return failure::make(ec::invalid_argument, "etcd: the " + what + " '" + path
                                                   + "' is encrypted: give an unencrypted key");
    return pem;
  }
  return failure::make(ec::invalid_argument, "etcd: the " + what + " '" + path
                                               + "' holds no PEM " + std::string{kind});
}

/// Returns the credentials of every connection: TLS with `tls`'s files,
/// or plaintext.
/// Errors: as read_pem, and `ec::invalid_argument` for a certificate
/// without its key or a key without its certificate.
result<std::shared_ptr<grpc::ChannelCredentials>>
channel_credentials(const std::optional<etcd_tls>& tls) {
  if (!tls)
    return grpc::InsecureChannelCredentials();
  if (tls->cert_file.empty() != tls->key_file.empty())
    return failure::make(ec::invalid_argument,
                         "etcd: TLS needs both a client certificate and its key, or neither");
  grpc::SslCredentialsOptions ssl;
  if (!tls->ca_file.empty()) {
    auto ca = read_pem(tls->ca_file, "CA file", "CERTIFICATE");
    if (!ca)
      return std::move(ca).error();
    ssl.pem_root_certs = std::move(*ca);
  }
  if (!tls->cert_file.empty()) {
    auto cert = read_pem(tls->cert_file, "client certificate", "CERTIFICATE");
    if (!cert)
      return std::move(cert).error();
    auto key = read_pem(tls->key_file, "client key", "PRIVATE KEY");
    if (!key)
      return std::move(key).error();
    ssl.pem_cert_chain = std::move(*cert);
    ssl.pem_private_key = std::move(*key);
  }
  return grpc::SslCredentials(ssl);
}

/// A Compare of `key`'s value with `value`.
void compare_value(TxnRequest& txn, const std::string& key, const std::string& value) {
  auto* compare = txn.add_compare();
  compare->set_key(key);
  compare->set_target(Compare::VALUE);
  compare->set_result(Compare::EQUAL);
  compare->set_value(value);
}

/// A Compare that `key` does not exist.
void compare_absent(TxnRequest& txn, const std::string& key) {
  auto* compare = txn.add_compare();
  compare->set_key(key);
  compare->set_target(Compare::CREATE);
  compare->set_result(Compare::EQUAL);
  compare->set_create_revision(0);
}

void put(google::protobuf::RepeatedPtrField<RequestOp>& ops, std::string key,
         std::string value) {
  auto* request = ops.Add()->mutable_request_put();
  request->set_key(std::move(key));
  request->set_value(std::move(value));
}

void get(google::protobuf::RepeatedPtrField<RequestOp>& ops, std::string key) {
  ops.Add()->mutable_request_range()->set_key(std::move(key));
}

/// One append as etcd stores it: all its events in one value, kept twice,
/// under the key of its first event (the entity's history) and under the
/// key of its first position (the global log). One value per append keeps
/// a transaction at 3 operations plus one per command id, whatever the
/// number of events, so only etcd's request size bounds an append.
struct chunk {
  entity_id entity;
  std::uint64_t first_version = 0;
  std::uint64_t first_position = 0;
  std::string aggregate;
  std::vector<event_record> events;
};

constexpr std::uint8_t chunk_format = 1;

/// Returns the stored value of an append's events (`event_values`, each
/// layout::encode_event_value's) at `first_version` and `first_position`.
std::string encode_chunk(const entity_id& entity, std::uint64_t first_version,
                         std::uint64_t first_position, const std::string& aggregate,
                         const std::vector<std::string>& event_values) {
  std::vector<std::uint8_t> bytes;
  byte_writer out{bytes};
  out.write(chunk_format);
  out.write(entity);
  out.write_big_endian(first_version);
  out.write_big_endian(first_position);
  out.write(aggregate);
  out.write(static_cast<std::uint32_t>(event_values.size()));
  for (const auto& value : event_values)
    out.write(value);
  return {bytes.begin(), bytes.end()};
}

/// Decodes a stored append; `where` names it in the error.
/// Errors: ec::decode_failure (a value that does not decode, or an event
/// that disagrees with the chunk's entity, version or position).
result<chunk> decode_chunk(std::string_view value, const std::string& where) {
  auto damaged = [&](const std::string& why) {
    return failure::make(ec::decode_failure, "etcd: " + where + " does not decode: " + why);
  };
  byte_reader in{reinterpret_cast<const std::uint8_t*>(value.data()), value.size()};
  chunk out;
  std::uint8_t format = 0;
  std::uint32_t count = 0;
  if (!in.read(format) || format != chunk_format)
    return damaged("unknown format");
  if (!in.read(out.entity) || !in.read_big_endian(out.first_version)
      || !in.read_big_endian(out.first_position) || !in.read(out.aggregate) || !in.read(count)
      || count == 0 || out.first_version == 0 || out.first_position == 0)
    return damaged("a truncated header");
  out.events.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string event_value;
    if (!in.read(event_value))
      return damaged("a truncated event");
    auto record = layout::decode_event_value(out.entity, out.first_version + i, event_value);
    if (!record)
      return std::move(record).error();
    if (record->position != out.first_position + i)
      return damaged("event " + std::to_string(out.first_version + i) + " says position "
                     + std::to_string(record->position));
    out.events.push_back(std::move(*record));
  }
  if (in.remaining() != 0)
    return damaged("bytes after its events");
  return out;
}

/// Fixed bytes per transaction and per operation (keys, framing), so the
/// size check stays below etcd's limit.
constexpr std::size_t txn_overhead = 256;
constexpr std::size_t op_overhead = 32;

} // namespace

result<std::vector<std::string>> parse_endpoints(std::string_view text) {
  std::vector<std::string> out;
  auto bad = [&](std::string why) {
    return failure::make(ec::invalid_argument,
                         "etcd endpoints '" + std::string{text} + "': " + why
                           + " (expected HOST:PORT[,HOST:PORT...])");
  };
  if (text.empty())
    return bad("empty");
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string_view::npos)
      end = text.size();
    auto item = text.substr(start, end - start);
    auto colon = item.rfind(':');
    if (item.empty() || colon == std::string_view::npos || colon == 0)
      return bad("'" + std::string{item} + "' is not HOST:PORT");
    unsigned port = 0;
    auto digits = item.substr(colon + 1);
    auto [ptr, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || error != std::errc{} || ptr != digits.data() + digits.size()
        || port == 0 || port > 65535)
      return bad("'" + std::string{item} + "' has no port in 1..65535");
    out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

// -- the implementation -----------------------------------------------------

namespace {

/// One append waiting in the group commit.
struct pending {
  const append_request* request = nullptr;
  std::optional<result<std::uint64_t>>* slot = nullptr;
  clock_type::time_point deadline;
  std::size_t ops = 0;
  std::size_t bytes = 0;
  std::vector<std::pair<uuid, std::uint64_t>> commands;
  /// An attempt that carried it lost its answer: it may be stored.
  bool maybe_applied = false;
  /// Why the last attempt failed, for the final answer.
  std::string last_error;
};

} // namespace


class etcd_store::impl {
public:
  etcd_store* owner = nullptr; // reads for the commit's conflicts
  etcd_options options;
  /// One connection per member. Calls go to the preferred one; a call
  /// that fails there (dead, frozen, cut off from the leader) moves the
  /// preference on, so the next attempt goes to another member (a frozen
  /// member's connection looks healthy to gRPC until its keepalive ends).
  std::vector<std::unique_ptr<KV::Stub>> members;
  std::vector<std::unique_ptr<Watch::Stub>> watchers; // the same members, for watches
  std::atomic<std::size_t> preferred{0};

  KV::Stub& member(std::size_t& used) {
    used = preferred.load();
    return *members[used % members.size()];
  }
  void member_failed(std::size_t used) { preferred.compare_exchange_strong(used, used + 1); }

  // The group commit: appends wait in `queue`; one thread at a time
  // commits everything queued (see append_batch).
  std::mutex commit_mutex;
  std::condition_variable committed;
  struct job;
  std::deque<job*> queue;
  bool committing = false;
  // The committer's view of the log's last position, and the etcd
  // revision that wrote it (what the next transaction compares).
  std::uint64_t last_position = 0;
  std::int64_t last_position_revision = 0;

  std::atomic<std::uint64_t> transactions{0}, appends{0}, log_races{0}, ambiguous{0}, confirmed{0};

  std::string key(const std::string& layout_key) const { return options.key_prefix + layout_key; }

  /// Runs one read with the store's deadline rules: each attempt gets
  /// `call_timeout` and goes to the preferred member; an attempt that did
  /// not reach the cluster or lost its answer is tried again on the next
  /// member until `write_timeout` has passed. Reads only: they are
  /// idempotent.
  template <class Request, class Response, class Method>
  grpc::Status read_call(Method method, const Request& request, Response& response) {
    auto budget_end = clock_type::now() + options.write_timeout;
    for (;;) {
      grpc::ClientContext context;
      context.AddMetadata("hasleader", "true");
      auto limit = std::min(budget_end, clock_type::now() + options.call_timeout);
      context.set_deadline(std::chrono::system_clock::now() + (limit - clock_type::now()));
      std::size_t used = 0;
      auto status = (member(used).*method)(&context, request, &response);
      if (status.ok() || classify(status) == call_outcome::refused)
        return status;
      member_failed(used);
      if (clock_type::now() + std::chrono::milliseconds{50} >= budget_end)
        return status;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
  }

  result<RangeResponse> range(RangeRequest& request, const std::string& what) {
    RangeResponse response;
    auto status = read_call(&KV::Stub::Range, request, response);
    if (!status.ok())
      return to_failure(status, what);
    return response;
  }

  result<TxnResponse> read_txn(const TxnRequest& request, const std::string& what) {
    TxnResponse response;
    auto status = read_call(&KV::Stub::Txn, request, response);
    if (!status.ok())
      return to_failure(status, what);
    return response;
  }

  /// One write transaction, one attempt, `call_timeout` at most.
  grpc::Status write_txn(const TxnRequest& request, TxnResponse& response,
                         clock_type::time_point deadline) {
    grpc::ClientContext context;
    context.AddMetadata("hasleader", "true");
    auto limit = std::min(deadline, clock_type::now() + options.call_timeout);
    context.set_deadline(std::chrono::system_clock::now()
                         + std::max(limit - clock_type::now(), clock_type::duration{
                                                                 std::chrono::milliseconds{1}}));
    std::size_t used = 0;
    auto status = member(used).Txn(&context, request, &response);
    if (!status.ok() && classify(status) != call_outcome::refused)
      member_failed(used);
    return status;
  }

  /// Reads one key; nothing when it is absent.
  result<std::optional<KeyValue>> get_key(const std::string& key, const std::string& what,
                                          std::int64_t revision = 0) {
    RangeRequest request;
    request.set_key(key);
    request.set_revision(revision);
    auto response = range(request, what);
    if (!response)
      return std::move(response).error();
    std::optional<KeyValue> out;
    if (response->kvs_size() > 0)
      out = response->kvs(0);
    return out;
  }

  result<std::uint64_t> decode_position(const std::optional<KeyValue>& stored) {
    std::uint64_t position = 0;
    if (stored && !layout::decode_version(stored->value(), position))
      return failure::make(ec::decode_failure,
                           "etcd: the global log's last position under prefix '"
                             + options.key_prefix
                             + "' does not decode (not a cafes store, or damaged)");
    return position;
  }

  result<std::uint64_t> read_version_value(const std::optional<KeyValue>& stored,
                                           const std::string& what) {
    std::uint64_t version = 0;
    if (stored && !layout::decode_version(stored->value(), version))
      return failure::make(ec::decode_failure, "etcd: " + what + " does not decode");
    return version;
  }

  void commit(std::vector<job*>& jobs);
  void commit_group(pending* const* group, std::size_t size);
};

struct etcd_store::impl::job {
  std::vector<pending> appends;
  bool done = false;
};

etcd_store::etcd_store(std::unique_ptr<impl> self) : impl_(std::move(self)) {
  impl_->owner = this;
}

etcd_store::~etcd_store() = default;

result<std::shared_ptr<etcd_store>> etcd_store::open(const etcd_options& options) {
  if (options.endpoints.empty())
    return failure::make(ec::invalid_argument, "etcd: no endpoints given");
  if (options.key_prefix.size() > 64)
    return failure::make(ec::invalid_argument,
                         "etcd: the key prefix is over 64 bytes");
  if (options.write_timeout < options.call_timeout || options.call_timeout.count() <= 0)
    return failure::make(ec::invalid_argument,
                         "etcd: the write timeout must be at least the call timeout, "
                         "and that above 0");
  if (options.max_txn_ops < 8)
    return failure::make(ec::invalid_argument, "etcd: max_txn_ops below 8");
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);
  // A member that died or froze is left within seconds; etcd refuses
  // pings more often than every 5 s (--grpc-keepalive-min-time).
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5'000);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2'000);
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1'000);
  auto credentials = channel_credentials(options.tls);
  if (!credentials)
    return std::move(credentials).error();
  auto self = std::make_unique<impl>();
  self->options = options;
  for (const auto& endpoint : options.endpoints) {
    auto checked = parse_endpoints(endpoint);
    if (!checked)
      return std::move(checked).error();
    auto colon = endpoint.rfind(':');
    auto host = endpoint.substr(0, colon);
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr)
      return failure::make(ec::invalid_argument,
                           "etcd: endpoint '" + endpoint + "': no IPv4 address for its host");
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text,
              sizeof text);
    freeaddrinfo(found);
    auto member_arguments = arguments;
    // The connection goes to the address; the member's certificate must
    // name the host as the endpoint gave it.
    if (options.tls)
      member_arguments.SetSslTargetNameOverride(host);
    auto channel = grpc::CreateCustomChannel("ipv4:" + std::string{text} + endpoint.substr(colon),
                                             *credentials, member_arguments);
    self->members.push_back(KV::NewStub(channel));
    self->watchers.push_back(Watch::NewStub(channel));
  }
  auto stored = self->get_key(self->key(layout::position_key()),
                              "reading the last position at " + endpoint_list(options.endpoints));
  if (!stored) {
    // A TLS mismatch shows only as a connection that fails: say which
    // side of it this store is on.
    auto error = std::move(stored).error();
    if (error.code == ec::storage_unavailable) {
      if (!options.tls)
        error.message += " (connecting without TLS)";
      else
        error.message += " (connecting with TLS, trusting "
                         + (options.tls->ca_file.empty() ? std::string{"gRPC's default roots"}
                                                         : "the CA in " + options.tls->ca_file)
                         + (options.tls->cert_file.empty()
                              ? std::string{", without a client certificate"}
                              : ", with the client certificate " + options.tls->cert_file)
                         + ": a CA that did not sign the members' certificates, a certificate "
                           "or key the TLS library or the cluster refused, or a member "
                           "without TLS fails the handshake)";
    }
    return error;
  }
  auto position = self->decode_position(*stored);
  if (!position)
    return std::move(position).error();
  self->last_position = *position;
  self->last_position_revision = *stored ? (*stored)->mod_revision() : 0;
  return std::shared_ptr<etcd_store>{new etcd_store{std::move(self)}};
}

etcd_store::commit_stats etcd_store::stats() const {
  return {impl_->transactions.load(), impl_->appends.load(), impl_->log_races.load(),
          impl_->ambiguous.load(), impl_->confirmed.load()};
}

std::size_t etcd_store::max_view_changes() const noexcept {
  return impl_->options.max_txn_ops - 1;
}

// -- watching other writers' commits ---------------------------------------

namespace {

/// A thread that watches the last-position key, which every append
/// transaction writes, and calls back on each change. A watch stream that
/// ends (its member died or lost its leader: the stream asks for one) is
/// opened again on the next member from the revision after the last one it
/// covered, so a commit made while no stream was open still calls back.
class etcd_append_watch final : public append_watch {
public:
  etcd_append_watch(std::vector<Watch::Stub*> members, std::string key,
                    std::function<void()> on_append)
    : members_(std::move(members)), key_(std::move(key)), on_append_(std::move(on_append)) {
    thread_ = std::thread{[this] { run(); }};
  }

  ~etcd_append_watch() override {
    {
      std::lock_guard guard{mutex_};
      stop_ = true;
      if (context_)
        context_->TryCancel();
    }
    woken_.notify_all();
    thread_.join();
  }

private:
  void run() {
    // The first revision no stream has covered yet; 0 before the first
    // stream was created (it covers from then on).
    std::int64_t next_revision = 0;
    for (std::size_t member = 0;; ++member) {
      grpc::ClientContext context;
      context.AddMetadata("hasleader", "true");
      {
        std::lock_guard guard{mutex_};
        if (stop_)
          return;
        context_ = &context;
      }
      auto stream = members_[member % members_.size()]->Watch(&context);
      WatchRequest request;
      request.mutable_create_request()->set_key(key_);
      request.mutable_create_request()->set_start_revision(next_revision);
      if (stream->Write(request)) {
        WatchResponse response;
        while (stream->Read(&response)) {
          if (response.created() && next_revision == 0)
            next_revision = response.header().revision() + 1;
          for (const auto& event : response.events())
            next_revision = std::max(next_revision, event.kv().mod_revision() + 1);
          if (response.compact_revision() > 0)
            next_revision = 0; // compacted away: from now on (the call back covers the gap)
          if (response.events_size() > 0 || response.canceled())
            on_append_();
          if (response.canceled()) {
            // The member dropped the watch but may keep the stream: open
            // a new one rather than wait on a stream that says nothing.
            context.TryCancel();
            while (stream->Read(&response)) {
            }
            break;
          }
        }
      }
      {
        std::lock_guard guard{mutex_};
        context_ = nullptr;
      }
      on_append_(); // a commit may have come while the stream was down
      std::unique_lock lock{mutex_};
      if (woken_.wait_for(lock, std::chrono::milliseconds{200}, [this] { return stop_; }))
        return;
    }
  }

  std::vector<Watch::Stub*> members_;
  std::string key_;
  std::function<void()> on_append_;
  std::mutex mutex_;
  std::condition_variable woken_;
  grpc::ClientContext* context_ = nullptr;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace

std::unique_ptr<append_watch> etcd_store::watch_appends(std::function<void()> on_append) {
  std::vector<Watch::Stub*> members;
  for (auto& member : impl_->watchers)
    members.push_back(member.get());
  return std::make_unique<etcd_append_watch>(std::move(members),
                                             impl_->key(layout::position_key()),
                                             std::move(on_append));
}

// -- appends --------------------------------------------------------------

result<std::uint64_t> etcd_store::append(const append_request& request) {
  return std::move(append_batch(std::span{&request, 1}).front());
}

std::vector<result<std::uint64_t>>
etcd_store::append_batch(std::span<const append_request> requests) {
  auto& self = *impl_;
  std::vector<std::optional<result<std::uint64_t>>> slots(requests.size());
  impl::job mine;
  auto deadline = clock_type::now() + self.options.write_timeout;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& request = requests[i];
    if (auto refused = check_append(request)) {
      slots[i] = std::move(*refused);
      continue;
    }
    pending entry;
    entry.request = &request;
    entry.slot = &slots[i];
    entry.deadline = deadline;
    entry.commands = commands_of(request);
    // Puts: the chunk under its first event and first position, the head,
    // each command; plus the last position's put that every transaction
    // carries.
    entry.ops = 3 + entry.commands.size();
    entry.bytes = 6 * (op_overhead + self.options.key_prefix.size() + 64);
    for (const auto& event : request.events)
      entry.bytes += 2 * (event.payload.size() + event.type.size() + 128);
    entry.bytes += 2 * request.aggregate.size()
                   + 3 * entry.commands.size() * (64 + op_overhead + self.options.key_prefix.size());
    if (entry.ops + 1 > self.options.max_txn_ops) {
      slots[i] = failure::make(
        ec::invalid_argument,
        "etcd: an append with " + std::to_string(entry.commands.size()) + " command ids needs "
          + std::to_string(entry.ops + 1) + " operations in one transaction; etcd takes "
          + std::to_string(self.options.max_txn_ops) + " (--max-txn-ops)");
      continue;
    }
    if (entry.bytes + txn_overhead > self.options.max_request_bytes) {
      slots[i] = failure::make(ec::invalid_argument,
                               "etcd: an append of about " + std::to_string(entry.bytes)
                                 + " bytes is over etcd's request limit of "
                                 + std::to_string(self.options.max_request_bytes)
                                 + " bytes (--max-request-bytes)");
      continue;
    }
    mine.appends.push_back(std::move(entry));
  }
  if (!mine.appends.empty()) {
    std::unique_lock lock{self.commit_mutex};
    self.queue.push_back(&mine);
    while (!mine.done) {
      if (self.committing) {
        self.committed.wait(lock);
        continue;
      }
      // Nobody commits: this thread commits everything queued, its own
      // appends and those that arrived meanwhile, in arrival order.
      self.committing = true;
      std::vector<impl::job*> jobs(self.queue.begin(), self.queue.end());
      self.queue.clear();
      lock.unlock();
      try {
        self.commit(jobs);
      } catch (const std::exception& e) {
        // Out of memory, most likely: answer every append not answered yet
        // (one in flight may be stored) and let the next thread commit.
        for (auto* job : jobs)
          for (auto& entry : job->appends)
            if (!entry.slot->has_value())
              *entry.slot = failure::make(ec::unknown_outcome,
                                          std::string{"etcd: the commit failed: "} + e.what());
      }
      lock.lock();
      for (auto* job : jobs)
        job->done = true;
      self.committing = false;
      self.committed.notify_all();
    }
  }
  std::vector<result<std::uint64_t>> out;
  out.reserve(requests.size());
  for (auto& slot : slots)
    out.push_back(std::move(*slot));
  return out;
}

void etcd_store::impl::commit(std::vector<job*>& jobs) {
  std::vector<pending*> open;
  for (auto* job : jobs)
    for (auto& entry : job->appends)
      open.push_back(&entry);
  // Transactions in a row: each takes, in order, the first open append of
  // every entity it does not hold yet (a second append of one entity waits
  // for the first one's outcome), up to etcd's limits.
  while (!open.empty()) {
    std::vector<pending*> group;
    std::unordered_set<entity_id> seen;
    std::size_t ops = 1, bytes = txn_overhead;
    for (auto* entry : open) {
      auto first_of_entity = seen.insert(entry->request->entity).second;
      if (!first_of_entity)
        continue;
      if (!group.empty()
          && (ops + entry->ops > options.max_txn_ops
              || bytes + entry->bytes > options.max_request_bytes
              || group.size() + 1 > options.max_txn_ops))
        break;
      group.push_back(entry);
      ops += entry->ops;
      bytes += entry->bytes;
    }
    commit_group(group.data(), group.size());
    std::erase_if(open, [](pending* entry) { return entry->slot->has_value(); });
  }
}

void etcd_store::impl::commit_group(pending* const* group_begin, std::size_t size) {
  std::vector<pending*> group(group_begin, group_begin + size);
  // Conflicted appends whose missed events are read after the transaction
  // (events never change once stored, so reading them later is exact).
  struct conflicted {
    pending* entry;
    std::uint64_t actual;
  };
  std::vector<conflicted> conflicts;
  // Appends an attempt of which may be stored: their own events at the
  // expected version say whether it is; if not, `otherwise` is the answer
  // (nothing: a conflict at `actual`).
  struct unsure {
    pending* entry;
    std::uint64_t actual;
    std::optional<failure> otherwise;
  };
  std::vector<unsure> to_confirm;
  // Ends an append that failed with `why`: one that may be stored is
  // confirmed first.
  auto fail = [&](pending* entry, failure why) {
    if (entry->maybe_applied)
      to_confirm.push_back({entry, 0, std::move(why)});
    else
      *entry->slot = std::move(why);
  };
  auto out_of_time = [&](pending* entry) {
    if (entry->maybe_applied)
      *entry->slot = failure::make(
        ec::unknown_outcome,
        "etcd: the append to " + to_string(entry->request->entity) + " at version "
          + std::to_string(entry->request->expected_version)
          + " may be stored (its answer was lost and the write timeout ran out): read back "
            "to know; "
          + entry->last_error);
    else
      *entry->slot = failure::make(ec::storage_unavailable,
                                   entry->last_error.empty()
                                     ? "etcd: the write timeout ran out before the append was "
                                       "sent (the cluster is slow or stalled)"
                                     : entry->last_error);
  };
  const auto position_key = key(layout::position_key());
  while (!group.empty()) {
    // Appends whose write timeout ran out (waiting in the queue, or in
    // earlier attempts) are not sent again.
    auto now = clock_type::now();
    std::erase_if(group, [&](pending* entry) {
      if (entry->deadline > now)
        return false;
      out_of_time(entry);
      return true;
    });
    if (group.empty())
      break;
    TxnRequest txn;
    auto* guard = txn.add_compare();
    guard->set_key(position_key);
    guard->set_target(Compare::MOD);
    guard->set_result(Compare::EQUAL);
    guard->set_mod_revision(last_position_revision);
    get(*txn.mutable_failure(), position_key);
    auto next_position = last_position;
    int expected_responses = 1;
    for (auto* entry : group) {
      const auto& request = *entry->request;
      auto head = key(layout::head_key(request.entity));
      if (request.expected_version == 0)
        compare_absent(txn, head);
      else
        compare_value(txn, head, layout::encode_version(request.expected_version));
      get(*txn.mutable_failure(), head);
      for (const auto& [command, version] : entry->commands) {
        auto command_key = key(layout::command_key(request.entity, command));
        compare_absent(txn, command_key);
        get(*txn.mutable_failure(), command_key);
      }
      expected_responses += 1 + static_cast<int>(entry->commands.size());
      auto version = request.expected_version;
      auto first_position = next_position + 1;
      std::vector<std::string> values;
      values.reserve(request.events.size());
      for (const auto& given : request.events) {
        event_record record = given;
        record.entity = request.entity;
        record.version = ++version;
        record.position = ++next_position;
        values.push_back(layout::encode_event_value(record, record.position));
      }
      auto stored = encode_chunk(request.entity, request.expected_version + 1, first_position,
                                 request.aggregate, values);
      put(*txn.mutable_success(), key(layout::log_key(first_position)), stored);
      put(*txn.mutable_success(),
          key(layout::event_key(request.entity, request.expected_version + 1)),
          std::move(stored));
      put(*txn.mutable_success(), std::move(head), layout::encode_version(version));
      for (const auto& [command, command_version] : entry->commands)
        put(*txn.mutable_success(), key(layout::command_key(request.entity, command)),
            layout::encode_version(command_version));
    }
    put(*txn.mutable_success(), position_key, layout::encode_version(next_position));
    auto deadline = group.front()->deadline;
    for (auto* entry : group)
      deadline = std::min(deadline, entry->deadline);
    TxnResponse response;
    ++transactions;
    appends += group.size();
    auto status = write_txn(txn, response, deadline);
    if (status.ok() && response.succeeded()) {
      for (auto* entry : group)
        *entry->slot = entry->request->expected_version + entry->request->events.size();
      last_position = next_position;
      last_position_revision = response.header().revision();
      break;
    }
    if (!status.ok()) {
      auto outcome = classify(status);
      if (outcome == call_outcome::refused) {
        bool too_big = status.error_code() == grpc::StatusCode::INVALID_ARGUMENT
                       || says(status, "larger than max");
        if (group.size() > 1 && too_big) {
          // etcd refused the group (a limit our estimate missed): each
          // append on its own, so one's size never refuses the others.
          for (auto* entry : group)
            commit_group(&entry, 1);
        } else {
          // etcd applies a transaction and then reports that it passed the
          // space quota ("database space exceeded"): such a refusal may be
          // stored, so it is confirmed like a lost answer.
          bool maybe_stored = says(status, "space exceeded");
          for (auto* entry : group) {
            entry->maybe_applied = entry->maybe_applied || maybe_stored;
            fail(entry, to_failure(status, "appending"));
          }
        }
        break;
      }
      auto why = to_failure(status, "appending").message;
      for (auto* entry : group) {
        entry->last_error = why;
        entry->maybe_applied = entry->maybe_applied || outcome == call_outcome::maybe_applied;
      }
      if (outcome == call_outcome::maybe_applied)
        ++ambiguous;
      else
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
      continue; // out of time is checked at the top
    }
    // The compare failed: find out which part of it.
    const auto& responses = response.responses();
    if (responses.size() != expected_responses) {
      for (auto* entry : group)
        fail(entry, failure::make(ec::storage_failure,
                                  "etcd: a refused transaction answered with "
                                    + std::to_string(responses.size()) + " reads, not "
                                    + std::to_string(expected_responses)));
      break;
    }
    int at = 0;
    const auto& position_range = responses[at++].response_range();
    std::optional<KeyValue> stored_position;
    if (position_range.kvs_size() > 0)
      stored_position = position_range.kvs(0);
    auto decoded_position = decode_position(stored_position);
    if (!decoded_position) {
      for (auto* entry : group)
        fail(entry, decoded_position.error());
      break;
    }
    bool log_moved = *decoded_position != last_position
                     || (stored_position ? stored_position->mod_revision() : 0)
                          != last_position_revision;
    last_position = *decoded_position;
    last_position_revision = stored_position ? stored_position->mod_revision() : 0;
    std::vector<pending*> again;
    for (auto* entry : group) {
      const auto& request = *entry->request;
      const auto& head_range = responses[at++].response_range();
      std::optional<KeyValue> head_kv;
      if (head_range.kvs_size() > 0)
        head_kv = head_range.kvs(0);
      auto actual = read_version_value(head_kv, "the head of " + to_string(request.entity));
      std::optional<std::uint64_t> duplicate_version;
      uuid duplicate;
      bool damaged_command = false;
      for (const auto& [command, version] : entry->commands) {
        const auto& command_range = responses[at++].response_range();
        if (command_range.kvs_size() == 0 || duplicate_version)
          continue;
        std::uint64_t first = 0;
        if (!layout::decode_version(command_range.kvs(0).value(), first))
          damaged_command = true;
        duplicate_version = first;
        duplicate = command;
      }
      if (!actual) {
        fail(entry, actual.error());
      } else if (*actual == 0 && head_kv) {
        // A head of version 0 exists: "create" compares absence and fails
        // for ever. Damage, not a race.
        fail(entry, failure::make(ec::decode_failure, "etcd: the head of "
                                                        + to_string(request.entity)
                                                        + " says version 0"));
      } else if (*actual != request.expected_version) {
        if (entry->maybe_applied && *actual > request.expected_version)
          to_confirm.push_back({entry, *actual, std::nullopt});
        else
          conflicts.push_back({entry, *actual});
      } else if (damaged_command) {
        fail(entry, failure::make(ec::decode_failure, "etcd: a command record of "
                                                        + to_string(request.entity)
                                                        + " does not decode"));
      } else if (duplicate_version) {
        *entry->slot = duplicate_command(request.entity, duplicate, *duplicate_version);
      } else {
        again.push_back(entry); // only the log moved: try again at once
      }
    }
    if (!again.empty() && log_moved)
      ++log_races;
    group = std::move(again);
  }
  // An append whose earlier attempt may have committed: its own events at
  // the expected version say it did (every event id, and the same count).
  for (auto& [entry, actual, otherwise] : to_confirm) {
    const auto& request = *entry->request;
    auto stored = get_key(key(layout::event_key(request.entity, request.expected_version + 1)),
                          "confirming an append");
    if (!stored) {
      *entry->slot = failure::make(ec::unknown_outcome,
                                   "etcd: the append to " + to_string(request.entity)
                                     + " may be stored: reading it back failed: "
                                     + stored.error().message);
      continue;
    }
    bool ours = false;
    if (*stored) {
      auto found = decode_chunk((**stored).value(), "an append of " + to_string(request.entity));
      if (!found) {
        *entry->slot = found.error();
        continue;
      }
      ours = found->events.size() == request.events.size()
             && std::equal(found->events.begin(), found->events.end(), request.events.begin(),
                           [](const event_record& a, const event_record& b) {
                             return a.id == b.id && a.command_id == b.command_id;
                           });
    }
    if (ours) {
      *entry->slot = request.expected_version + request.events.size();
      ++confirmed;
    } else if (otherwise) {
      *entry->slot = std::move(*otherwise); // not stored: the failure stands
    } else {
      conflicts.push_back({entry, actual});
    }
  }
  for (auto& [entry, actual] : conflicts) {
    const auto& request = *entry->request;
    auto refused = failure::conflict(request.entity, request.expected_version, actual);
    if (actual > request.expected_version
        && actual - request.expected_version <= request.missed_events_cap) {
      // Outside the commit's lock: events at a version never change.
      auto missed = owner->read(request.entity, request.expected_version + 1, actual);
      if (missed && missed->size() == actual - request.expected_version)
        refused.missed_events = std::move(*missed);
    }
    *entry->slot = std::move(refused);
  }
}

// -- reads ----------------------------------------------------------------

namespace {

/// Takes apart what a read of `entity`'s events `from`..`to` got: its
/// appends (`stored`, in key order, the first one holding `from` or none
/// before it) and its head (`head_range`), read at one revision.
result<std::vector<event_record>> parse_history(const std::string& key_prefix,
                                                const entity_id& entity, std::uint64_t from,
                                                std::uint64_t to, const RangeResponse& stored,
                                                const RangeResponse& head_range) {
  std::vector<event_record> out;
  auto damaged = [&](const std::string& why) {
    return failure::make(ec::decode_failure,
                         "etcd: the history of " + to_string(entity) + " is damaged: " + why);
  };
  std::uint64_t head = 0;
  if (head_range.kvs_size() > 0 && !layout::decode_version(head_range.kvs(0).value(), head))
    return damaged("its head does not decode");
  std::uint64_t next_version = 0; // what the next append must start at
  for (const auto& kv : stored.kvs()) {
    auto found = decode_chunk(kv.value(), "an append of " + to_string(entity));
    if (!found)
      return std::move(found).error();
    if (found->entity != entity
        || kv.key() != key_prefix + layout::event_key(entity, found->first_version))
      return damaged("an append stored under another key");
    if (next_version != 0 && found->first_version != next_version)
      return damaged("version " + std::to_string(next_version) + " is missing");
    next_version = found->first_version + found->events.size();
    for (auto& event : found->events)
      if (event.version >= from && event.version <= to)
        out.push_back(std::move(event));
  }
  auto last = std::min(head, to);
  auto expected = last >= from ? last - from + 1 : 0;
  if (out.size() != expected || (!out.empty() && out.front().version != from))
    return damaged("its head says version " + std::to_string(head) + ", its events hold "
                   + std::to_string(out.size()) + " of versions " + std::to_string(from)
                   + ".." + std::to_string(last));
  if (to == last_version && next_version != 0 && next_version - 1 != head)
    return damaged("its head says version " + std::to_string(head) + ", its events end at "
                   + std::to_string(next_version - 1));
  return out;
}

} // namespace

result<std::vector<event_record>> etcd_store::read(const entity_id& entity, std::uint64_t from,
                                                   std::uint64_t to) {
  auto& self = *impl_;
  from = std::max<std::uint64_t>(from, 1);
  if (from > to)
    return std::vector<event_record>{};
  if (from == 1) {
    const read_request whole{entity, from, to};
    return std::move(read_batch(std::span{&whole, 1}).front());
  }
  const auto end_key = to == last_version
                         ? self.key(range_end_of(layout::event_key_prefix(entity)))
                         : key_after(self.key(layout::event_key(entity, to)));
  // The head and the append holding `from` (the last one starting at or
  // before it) in one read-only transaction, then the appends from there
  // at the same revision.
  TxnRequest txn;
  auto* appends = txn.add_success()->mutable_request_range();
  appends->set_key(self.key(layout::event_key(entity, 1)));
  appends->set_range_end(key_after(self.key(layout::event_key(entity, from))));
  appends->set_sort_order(RangeRequest::DESCEND);
  appends->set_sort_target(RangeRequest::KEY);
  appends->set_limit(1);
  get(*txn.mutable_success(), self.key(layout::head_key(entity)));
  auto what = "reading " + to_string(entity);
  auto response = self.read_txn(txn, what);
  if (!response)
    return std::move(response).error();
  if (response->responses_size() != 2)
    return failure::make(ec::storage_failure, "etcd: a read transaction answered oddly");
  auto stored = response->responses(0).response_range();
  if (stored.kvs_size() > 0) {
    RangeRequest rest;
    rest.set_key(stored.kvs(0).key());
    rest.set_range_end(end_key);
    rest.set_revision(response->header().revision());
    auto read_on = self.range(rest, what);
    if (!read_on)
      return std::move(read_on).error();
    stored = std::move(*read_on);
  }
  return parse_history(self.options.key_prefix, entity, from, to, stored,
                       response->responses(1).response_range());
}

std::vector<result<std::vector<event_record>>>
etcd_store::read_batch(std::span<const read_request> requests) {
  auto& self = *impl_;
  std::vector<std::optional<result<std::vector<event_record>>>> slots(requests.size());
  // Whole histories (from version 1): many in one read-only transaction,
  // two ranges each; the rest one by one.
  std::vector<std::size_t> whole;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& request = requests[i];
    if (std::max<std::uint64_t>(request.from, 1) > request.to)
      slots[i] = std::vector<event_record>{};
    else if (request.from <= 1)
      whole.push_back(i);
    else
      slots[i] = read(request.entity, request.from, request.to);
  }
  const auto per_txn = std::max<std::size_t>(1, self.options.max_txn_ops / 2);
  for (std::size_t first = 0; first < whole.size(); first += per_txn) {
    auto last = std::min(whole.size(), first + per_txn);
    TxnRequest txn;
    for (auto at = first; at < last; ++at) {
      const auto& request = requests[whole[at]];
      auto* appends = txn.add_success()->mutable_request_range();
      appends->set_key(self.key(layout::event_key(request.entity, 1)));
      appends->set_range_end(
        request.to == last_version
          ? self.key(range_end_of(layout::event_key_prefix(request.entity)))
          : key_after(self.key(layout::event_key(request.entity, request.to))));
      get(*txn.mutable_success(), self.key(layout::head_key(request.entity)));
    }
    auto response = self.read_txn(txn, "reading " + std::to_string(last - first) + " histories");
    for (auto at = first; at < last; ++at) {
      const auto& request = requests[whole[at]];
      auto index = static_cast<int>(2 * (at - first));
      if (!response)
        slots[whole[at]] = response.error();
      else if (response->responses_size() != static_cast<int>(2 * (last - first)))
        slots[whole[at]] = failure::make(ec::storage_failure,
                                         "etcd: a read transaction answered oddly");
      else
        slots[whole[at]] = parse_history(self.options.key_prefix, request.entity, 1, request.to,
                                         response->responses(index).response_range(),
                                         response->responses(index + 1).response_range());
    }
  }
  std::vector<result<std::vector<event_record>>> out;
  out.reserve(requests.size());
  for (auto& slot : slots)
    out.push_back(std::move(*slot));
  return out;
}

result<std::uint64_t> etcd_store::head(const entity_id& entity) {
  auto& self = *impl_;
  auto stored = self.get_key(self.key(layout::head_key(entity)),
                             "reading the head of " + to_string(entity));
  if (!stored)
    return std::move(stored).error();
  return self.read_version_value(*stored, "the head of " + to_string(entity));
}

result<std::vector<entity_id>> etcd_store::list_entities(std::optional<entity_id> after,
                                                         std::size_t limit) {
  auto& self = *impl_;
  std::vector<entity_id> out;
  if (limit == 0)
    return out;
  auto first_head = self.key(std::string(1, layout::head_prefix));
  RangeRequest request;
  request.set_key(after ? key_after(self.key(layout::head_key(*after))) : first_head);
  request.set_range_end(range_end_of(first_head));
  request.set_limit(static_cast<std::int64_t>(std::min<std::size_t>(limit, 1'000'000)));
  request.set_keys_only(true);
  auto response = self.range(request, "listing entities");
  if (!response)
    return std::move(response).error();
  for (const auto& kv : response->kvs()) {
    auto parsed = layout::parse_key(std::string_view{kv.key()}.substr(self.options.key_prefix.size()));
    if (!parsed || parsed->kind != layout::key_kind::head)
      return failure::make(ec::decode_failure, "etcd: a stray key among the entities' heads");
    out.push_back(parsed->entity);
  }
  return out;
}

result<log_page> etcd_store::read_all(std::uint64_t after, std::size_t limit,
                                      const log_filter& filter) {
  auto& self = *impl_;
  log_page page;
  page.next_after = after;
  if (limit == 0)
    return page;
  const auto log_start = self.key(layout::log_key_prefix());
  const auto log_end = range_end_of(log_start);
  // The append that holds position after+1: the last one starting at or
  // before it. Later pages read at the first one's revision.
  std::string start_key = log_start;
  std::int64_t revision = 0;
  if (after > 0) {
    RangeRequest find;
    find.set_key(log_start);
    find.set_range_end(key_after(self.key(layout::log_key(after + 1))));
    find.set_sort_order(RangeRequest::DESCEND);
    find.set_sort_target(RangeRequest::KEY);
    find.set_limit(1);
    find.set_keys_only(true);
    auto found = self.range(find, "reading the global log");
    if (!found)
      return std::move(found).error();
    revision = found->header().revision();
    if (found->kvs_size() > 0)
      start_key = found->kvs(0).key();
  }
  std::size_t looked = 0;
  std::uint64_t next_position = 0; // where the next append must start
  for (;;) {
    RangeRequest request;
    request.set_key(start_key);
    request.set_range_end(log_end);
    request.set_limit(256);
    request.set_revision(revision);
    auto response = self.range(request, "reading the global log");
    if (!response)
      return std::move(response).error();
    if (revision == 0)
      revision = response->header().revision(); // later pages: the same state
    for (const auto& kv : response->kvs()) {
      auto parsed = layout::parse_key(std::string_view{kv.key()}.substr(self.options.key_prefix.size()));
      if (!parsed || parsed->kind != layout::key_kind::log_entry)
        return failure::make(ec::decode_failure, "etcd: a stray key in the global log");
      auto found = decode_chunk(kv.value(), "the global log at position "
                                              + std::to_string(parsed->position));
      if (!found)
        return std::move(found).error();
      if (found->first_position != parsed->position)
        return failure::make(ec::decode_failure,
                             "etcd: the global log at position " + std::to_string(parsed->position)
                               + " holds an append of position "
                               + std::to_string(found->first_position));
      if (next_position == 0 && found->first_position > after + 1)
        return failure::make(ec::decode_failure, "etcd: the global log is damaged: position "
                                                   + std::to_string(after + 1)
                                                   + " is missing");
      if (next_position != 0 && found->first_position != next_position)
        return failure::make(ec::decode_failure, "etcd: the global log is damaged: position "
                                                   + std::to_string(next_position)
                                                   + " is missing");
      next_position = found->first_position + found->events.size();
      for (auto& event : found->events) {
        if (event.position <= after)
          continue;
        if (filter.allows(found->aggregate, event.type))
          page.events.push_back(std::move(event));
        page.next_after = event.position;
        if (page.events.size() >= limit || ++looked >= max_log_scan)
          return page;
      }
    }
    if (!response->more() || response->kvs_size() == 0)
      return page;
    start_key = key_after(response->kvs(response->kvs_size() - 1).key());
  }
}

result<std::optional<std::uint64_t>> etcd_store::find_command(const entity_id& entity,
                                                              const uuid& command) {
  auto& self = *impl_;
  auto stored = self.get_key(self.key(layout::command_key(entity, command)),
                             "reading a command of " + to_string(entity));
  if (!stored)
    return std::move(stored).error();
  std::optional<std::uint64_t> out;
  if (*stored) {
    auto version = self.read_version_value(*stored, "a command record of " + to_string(entity));
    if (!version)
      return std::move(version).error();
    out = *version;
  }
  return out;
}

result<std::uint64_t> etcd_store::last_position() {
  auto& self = *impl_;
  auto stored = self.get_key(self.key(layout::position_key()), "reading the last position");
  if (!stored)
    return std::move(stored).error();
  return self.decode_position(*stored);
}

// -- views ----------------------------------------------------------------

namespace {

/// Decodes a stored checkpoint of `view`; nothing when absent.
result<std::optional<view_checkpoint>> decode_checkpoint(std::string_view view,
                                                         const RangeResponse& range) {
  std::optional<view_checkpoint> out;
  if (range.kvs_size() == 0)
    return out;
  auto stored = layout::decode_view_checkpoint(range.kvs(0).value());
  if (!stored)
    return std::move(stored).error();
  if (stored->name != view)
    return failure::make(ec::decode_failure, "etcd: the checkpoint of view '"
                                               + std::string{view} + "' is view '"
                                               + stored->name + "''s");
  out = stored->checkpoint;
  return out;
}

/// Our failure for a view write that did not go through.
failure view_write_failed(const grpc::Status& status, std::string_view view) {
  auto what = "writing view '" + std::string{view} + "'";
  // Over the space quota etcd applies the write, then refuses it.
  if (classify(status) == call_outcome::maybe_applied || says(status, "space exceeded"))
    return failure::make(ec::unknown_outcome,
                         "etcd: " + what + ": the answer was lost, it may be stored: read "
                           "the checkpoint back to know (" + status.error_message() + ")");
  return to_failure(status, what);
}

} // namespace

result<std::optional<view_checkpoint>> etcd_store::read_view_checkpoint(std::string_view view) {
  if (auto bad = check_view_name(view))
    return *bad;
  auto& self = *impl_;
  RangeRequest request;
  request.set_key(self.key(layout::view_checkpoint_key(layout::view_id(view))));
  auto response = self.range(request, "reading view '" + std::string{view} + "'");
  if (!response)
    return std::move(response).error();
  return decode_checkpoint(view, *response);
}

result<view_checkpoint> etcd_store::reset_view(std::string_view view, std::uint32_t version,
                                               const std::optional<view_checkpoint>& expected) {
  if (auto bad = check_view_name(view))
    return *bad;
  auto& self = *impl_;
  auto id = layout::view_id(view);
  auto checkpoint_key = self.key(layout::view_checkpoint_key(id));
  view_checkpoint fresh{version, 0, expected ? expected->generation + 1 : 1};
  TxnRequest txn;
  if (expected)
    compare_value(txn, checkpoint_key, layout::encode_view_checkpoint(view, *expected));
  else
    compare_absent(txn, checkpoint_key);
  put(*txn.mutable_success(), checkpoint_key, layout::encode_view_checkpoint(view, fresh));
  // Every generation's rows go in the same transaction.
  auto* rows = txn.add_success()->mutable_request_delete_range();
  rows->set_key(self.key(layout::view_rows_prefix(id)));
  rows->set_range_end(self.key(range_end_of(layout::view_rows_prefix(id))));
  get(*txn.mutable_failure(), checkpoint_key);
  TxnResponse response;
  auto status = self.write_txn(txn, response, clock_type::now() + self.options.call_timeout);
  if (!status.ok())
    return view_write_failed(status, view);
  if (response.succeeded())
    return fresh;
  auto actual = decode_checkpoint(view, response.responses(0).response_range());
  if (!actual)
    return std::move(actual).error();
  return view_moved(view, expected, *actual);
}

result<view_checkpoint> etcd_store::commit_view(std::string_view view,
                                                const view_checkpoint& expected,
                                                std::uint64_t position,
                                                std::span<const view_change> changes) {
  if (auto bad = check_view_commit(view, changes))
    return *bad;
  auto& self = *impl_;
  // A later change to a key wins; etcd takes each key once per transaction.
  std::map<std::string_view, const view_change*> last_change;
  for (const auto& change : changes)
    last_change[change.key] = &change;
  if (last_change.size() > max_view_changes())
    return failure::make(ec::invalid_argument,
                         "view '" + std::string{view} + "': a commit of "
                           + std::to_string(last_change.size())
                           + " rows is over what one etcd transaction takes ("
                           + std::to_string(max_view_changes()) + " rows; --max-txn-ops "
                           + std::to_string(self.options.max_txn_ops) + ")");
  auto id = layout::view_id(view);
  auto checkpoint_key = self.key(layout::view_checkpoint_key(id));
  TxnRequest txn;
  compare_value(txn, checkpoint_key, layout::encode_view_checkpoint(view, expected));
  get(*txn.mutable_failure(), checkpoint_key);
  auto moved = [&](std::uint64_t last) {
    return failure::make(ec::invalid_argument,
                         "view '" + std::string{view} + "' cannot move from position "
                           + std::to_string(expected.position) + " to "
                           + std::to_string(position) + ": the global log ends at "
                           + std::to_string(last));
  };
  if (position < expected.position)
    return moved(position);
  if (position > expected.position) {
    // The log only grows: a position it holds now it holds for good.
    auto last = last_position();
    if (!last)
      return std::move(last).error();
    if (position > *last)
      return moved(*last);
  }
  for (const auto& [row, change] : last_change) {
    auto row_key = self.key(layout::view_row_key(id, expected.generation, row));
    if (change->value)
      put(*txn.mutable_success(), std::move(row_key),
          std::string{change->value->begin(), change->value->end()});
    else
      txn.add_success()->mutable_request_delete_range()->set_key(std::move(row_key));
  }
  auto next = expected;
  next.position = position;
  put(*txn.mutable_success(), checkpoint_key, layout::encode_view_checkpoint(view, next));
  TxnResponse response;
  auto status = self.write_txn(txn, response, clock_type::now() + self.options.call_timeout);
  if (!status.ok())
    return view_write_failed(status, view);
  if (response.succeeded())
    return next;
  auto actual = decode_checkpoint(view, response.responses(0).response_range());
  if (!actual)
    return std::move(actual).error();
  return view_moved(view, expected, *actual);
}

result<std::optional<std::vector<std::uint8_t>>> etcd_store::read_view(std::string_view view,
                                                                       std::string_view key) {
  return read_view_by_scan(view, key);
}

result<std::vector<view_row>> etcd_store::scan_view(std::string_view view,
                                                    std::string_view prefix,
                                                    std::string_view after, std::size_t limit) {
  if (auto bad = check_view_name(view))
    return *bad;
  auto& self = *impl_;
  std::vector<view_row> out;
  auto id = layout::view_id(view);
  RangeRequest checkpoint_request;
  checkpoint_request.set_key(self.key(layout::view_checkpoint_key(id)));
  auto what = "reading view '" + std::string{view} + "'";
  auto checkpoint_response = self.range(checkpoint_request, what);
  if (!checkpoint_response)
    return std::move(checkpoint_response).error();
  auto checkpoint = decode_checkpoint(view, *checkpoint_response);
  if (!checkpoint)
    return std::move(checkpoint).error();
  if (!*checkpoint || limit == 0)
    return out;
  // The rows at the checkpoint's revision: one consistent state of the view.
  auto generation = self.key(layout::view_generation_prefix(id, (*checkpoint)->generation));
  RangeRequest request;
  request.set_key(after < prefix ? generation + std::string{prefix}
                                 : key_after(generation + std::string{after}));
  request.set_range_end(range_end_of(generation + std::string{prefix}));
  request.set_limit(static_cast<std::int64_t>(std::min<std::size_t>(limit, 1'000'000)));
  request.set_revision(checkpoint_response->header().revision());
  if (request.key() >= request.range_end())
    return out;
  auto response = self.range(request, what);
  if (!response)
    return std::move(response).error();
  for (const auto& kv : response->kvs()) {
    auto row = std::string_view{kv.key()}.substr(generation.size());
    out.push_back(view_row{std::string{row}, {kv.value().begin(), kv.value().end()}});
  }
  return out;
}

} // namespace cafes
