#include "cafes/net/node.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "cafes/actors/application.hpp"
#include "address.hpp"
#include "cafes/net/node_gateway.hpp"
#include "remote_registry.hpp"

namespace cafes::net {

namespace {

[[noreturn]] void refuse(std::string message) {
  throw cafes_error{failure::make(ec::invalid_argument, std::move(message))};
}

/// Returns OpenSSL's oldest queued error as text (and clears the queue).
std::string openssl_error() {
  char text[256] = "no detail";
  if (auto code = ERR_get_error(); code != 0)
    ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

/// Gives OpenSSL the passphrase (and never lets it prompt on a terminal,
/// which its default callback does when it has none).
int passphrase_callback(char* buffer, int size, int, void* user) {
  const auto* passphrase = static_cast<const std::string*>(user);
  auto n = static_cast<int>(std::min<std::size_t>(passphrase->size(), static_cast<std::size_t>(size)));
  std::memcpy(buffer, passphrase->data(), static_cast<std::size_t>(n));
  return n;
}

/// Loads the TLS files the way CAF's openssl module will, so that a bad
/// one is refused here. Throws as node::node.
void check_tls(const tls_options& tls) {
  for (auto [field, value] : {std::pair{"certificate", &tls.certificate},
                              std::pair{"key", &tls.key}, std::pair{"ca_file", &tls.ca_file}})
    if (value->empty())
      refuse(std::string{"tls."} + field
             + " is empty: mutual TLS needs a certificate, its key and the CA file");
  for (auto [field, value] : {std::pair{"certificate", &tls.certificate},
                              std::pair{"key", &tls.key}, std::pair{"ca_file", &tls.ca_file}})
    if (!std::ifstream{*value})
      refuse(std::string{"tls."} + field + " '" + *value + "' cannot be read");
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context{SSL_CTX_new(TLS_method()),
                                                            &SSL_CTX_free};
  if (!context)
    refuse("OpenSSL cannot make a context: " + openssl_error());
  auto* ctx = context.get();
  SSL_CTX_set_default_passwd_cb(ctx, passphrase_callback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(&tls.passphrase));
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.certificate.c_str()) != 1)
    refuse("tls.certificate '" + tls.certificate + "' is not a PEM certificate ("
           + openssl_error() + ")");
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key.c_str(), SSL_FILETYPE_PEM) != 1)
    refuse("tls.key '" + tls.key + "' cannot be loaded: not a PEM key, or encrypted and "
           "the passphrase is wrong (" + openssl_error() + ")");
  if (SSL_CTX_check_private_key(ctx) != 1)
    refuse("tls.key '" + tls.key + "' is not the key of tls.certificate '" + tls.certificate
           + "' (" + openssl_error() + ")");
  if (SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr) != 1)
    refuse("tls.ca_file '" + tls.ca_file + "' is not a PEM certificate (" + openssl_error()
           + ")");
}

/// Sets CAF duration option `name`; throws if CAF does not keep it.
void set_duration(caf::actor_system_config& cfg, const char* name,
                  std::chrono::milliseconds value) {
  auto span = std::chrono::duration_cast<caf::timespan>(value);
  cfg.set(name, span);
  if (caf::get_or(caf::content(cfg), name, span + caf::timespan{1}) != span)
    refuse(std::string{"CAF refused "} + name);
}

/// The remote application's registries: one stand-in per aggregate.
class remote_source final : public registry_source {
public:
  explicit remote_source(std::shared_ptr<const remote_endpoint> where)
    : where_(std::move(where)) {}

  std::vector<registry_actor>
  shards(caf::actor_system& system,
         const std::shared_ptr<const erased_aggregate>& aggregate) override {
    // One stand-in per aggregate is enough: it only relays, and the node's
    // gateway picks the registry shard of each entity. It starts without a
    // gateway and asks the middleman for it at its first request (at once
    // for a live connection): the connection made in connect() may be gone
    // by the time an aggregate is first used.
    return {spawn_remote_registry(system, std::string{aggregate->name()}, where_,
                                  node_gateway_actor{})};
  }

private:
  std::shared_ptr<const remote_endpoint> where_;
};

} // namespace

struct node::impl {
  node_options options;
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  node_gateway_actor gateway; // null while not publishing
  std::uint16_t port = 0;

  caf::io::middleman_actor manager() {
    return options.tls ? system->openssl_manager().actor_handle()
                       : system->middleman().actor_handle();
  }
};

node::node(node_options options, const application_config& scheduler)
  : impl_(std::make_unique<impl>()) {
  impl_->options = std::move(options);
  auto& cfg = impl_->config;
  configure(cfg);
  configure_scheduler(cfg, scheduler);
  // The middleman first: the openssl manager needs it (the other order
  // ends in std::terminate).
  cfg.load<caf::io::middleman>();
  if (const auto& tls = impl_->options.tls) {
    check_tls(*tls);
    cfg.load<caf::openssl::manager>();
    // Any of these turns peer verification on, both ways.
    cfg.openssl_certificate = tls->certificate;
    cfg.openssl_key = tls->key;
    cfg.openssl_passphrase = tls->passphrase;
    cfg.openssl_cafile = tls->ca_file;
  }
  if (impl_->options.heartbeat.count() > 0) {
    // Both are off by default: a silent peer would never be noticed.
    set_duration(cfg, "middleman.heartbeat-interval", impl_->options.heartbeat);
    set_duration(cfg, "middleman.connection-timeout", impl_->options.connection_timeout);
  }
  impl_->system = std::make_unique<caf::actor_system>(cfg);
}

node::~node() {
  close();
  impl_->system.reset();
}

caf::actor_system& node::system() noexcept {
  return *impl_->system;
}

const node_options& node::options() const noexcept {
  return impl_->options;
}

std::uint16_t node::publish(application& app,
                            const std::vector<std::shared_ptr<const erased_aggregate>>& aggregates) {
  if (aggregates.empty())
    refuse("publish needs at least one aggregate");
  if (impl_->gateway)
    refuse("this node publishes already (port " + std::to_string(impl_->port) + ")");
  // CAF 0.17.6 trusts the bytes a peer sends before its handshake: 64
  // crafted bytes end the process (SIGSEGV in basp::instance::handle,
  // tests/node_bad_input_test.cpp). Behind TLS only peers with a
  // certificate of the CA get that far; in plain TCP only loopback, where
  // every peer is a process of this machine.
  if (!impl_->options.tls && !detail::is_loopback(impl_->options.host))
    refuse("publishing on " + impl_->options.host
           + " (not loopback) needs TLS: plain CAF connections are neither authenticated nor "
             "safe against crafted bytes");
  published_aggregates published;
  for (const auto& aggregate : aggregates)
    published.emplace(std::string{aggregate->name()},
                      application_access::shards(app.serve(aggregate)));
  auto gateway = spawn_node_gateway(*impl_->system, std::move(published));
  const auto& host = impl_->options.host;
  // SO_REUSEADDR: a node restarted after a crash gets its port back at
  // once, though the dead process's connections linger in TIME_WAIT. On
  // Linux it does not let two sockets listen on one port: a port another
  // process listens on is still an error (tested).
  auto port = impl_->options.tls
                ? caf::openssl::publish(gateway, impl_->options.port, host.c_str(), true)
                : impl_->system->middleman().publish(gateway, impl_->options.port, host.c_str(),
                                                     true);
  if (!port) {
    caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
    refuse("cannot publish on " + host + ":" + std::to_string(impl_->options.port) + " ("
           + impl_->system->render(port.error()) + ")");
  }
  impl_->gateway = std::move(gateway);
  impl_->port = *port;
  return *port;
}

void node::close() {
  if (!impl_->gateway)
    return;
  // Unpublishing closes the port; the gateway's exit ends the requests that
  // still arrive on open connections (the peers see ec::closing).
  // Through the manager actor: caf::openssl::unpublish does not compile in
  // 0.17.6 (its header sends the atom without the actor's address).
  caf::scoped_actor self{*impl_->system};
  self
    ->request(impl_->manager(), caf::duration{impl_->options.connect_timeout},
              caf::unpublish_atom::value, impl_->gateway.address(), impl_->port)
    .receive([] {}, [](caf::error&) {}); // nothing to do if it was closed already
  self->send_exit(impl_->gateway, caf::exit_reason::user_shutdown);
  self->wait_for(impl_->gateway);
  impl_->gateway = nullptr;
  impl_->port = 0;
}

result<std::unique_ptr<application>> node::connect(const std::string& host, std::uint16_t port,
                                                   application_config config) {
  auto where = std::make_shared<remote_endpoint>();
  where->host = host;
  where->port = port;
  where->manager = impl_->manager();
  where->connect_timeout = impl_->options.connect_timeout;
  where->request_timeout = config.request_timeout;
  // Through the manager actor, with a timeout: caf::io::remote_actor has
  // none, and hangs for good when the TLS files fail to load.
  std::optional<result<node_gateway_actor>> gateway;
  {
    caf::scoped_actor self{*impl_->system};
    self
      ->request(where->manager, caf::duration{where->connect_timeout}, caf::connect_atom::value,
                host, port)
      .receive(
        [&](caf::node_id&, caf::strong_actor_ptr& published, std::set<std::string>& ifs) {
          gateway.emplace(gateway_of(*impl_->system, *where, published, ifs));
        },
        [&](caf::error& err) { gateway.emplace(connect_failure(*impl_->system, *where, err)); });
  }
  if (!*gateway)
    return std::move(*gateway).error();
  // The gateway only proved that the port serves a cafes node: each
  // stand-in finds it again at its first request (see remote_source).
  auto source = std::make_shared<remote_source>(where);
  return std::make_unique<application>(*impl_->system, std::move(source), config);
}

} // namespace cafes::net
