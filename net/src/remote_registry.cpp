#include "remote_registry.hpp"

#include <optional>
#include <utility>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "cafes/actors/errors.hpp"

namespace cafes::net {

namespace {

using snapshot_promise = caf::typed_response_promise<entity_snapshot>;

/// A request waiting for a connection, or sent and not yet answered.
struct pending {
  snapshot_promise promise;
  entity_id id;
  /// The command while queued (none: a get); moved out when sent.
  std::optional<command_envelope> command;
  bool is_command = false;
};

struct remote_registry_state {
  static inline const char* name = "cafes.remote_registry";

  std::string aggregate;
  std::shared_ptr<const remote_endpoint> where;
  /// Null while not connected.
  node_gateway_actor gateway;
  bool connecting = false;
  /// Requests that came while not connected, in order.
  std::vector<pending> queued;
  /// Sent requests by a local number: a request leaves when its answer
  /// comes or its connection is lost, whichever is first.
  std::unordered_map<std::uint64_t, pending> in_flight;
  std::uint64_t next = 0;
};

using remote_pointer = registry_actor::stateful_pointer<remote_registry_state>;

caf::error fail(ec code, const entity_id& id, std::string message) {
  auto f = failure::make(code, std::move(message));
  f.entity = id;
  return to_caf_error(f);
}

void send(remote_pointer self, pending request) {
  auto& st = self->state;
  auto key = st.next++;
  auto on_answer = [self, key](entity_snapshot& snapshot) {
    auto found = self->state.in_flight.find(key);
    if (found == self->state.in_flight.end())
      return; // already failed: the connection was lost
    found->second.promise.deliver(std::move(snapshot));
    self->state.in_flight.erase(found);
  };
  auto on_error = [self, key](caf::error& err) {
    auto found = self->state.in_flight.find(key);
    if (found == self->state.in_flight.end())
      return;
    found->second.promise.deliver(std::move(err));
    self->state.in_flight.erase(found);
  };
  // A finite timeout always: a request to a node that died unanswered is
  // never answered otherwise (CAF 0.17.6 sends no request_receiver_down for
  // remote actors).
  auto timeout = caf::duration{st.where->request_timeout};
  if (request.command)
    self->request(st.gateway, timeout, execute_atom::value, st.aggregate, request.id,
                  std::move(*request.command))
      .then(on_answer, on_error);
  else
    self->request(st.gateway, timeout, caf::get_atom::value, st.aggregate, request.id)
      .then(on_answer, on_error);
  request.command.reset();
  st.in_flight.emplace(key, std::move(request));
}

/// Fails every queued request with `code` and `message`.
void fail_queued(remote_pointer self, ec code, const std::string& message) {
  auto queued = std::move(self->state.queued);
  self->state.queued.clear();
  for (auto& request : queued)
    request.promise.deliver(fail(code, request.id, message));
}

void adopt(remote_pointer self, node_gateway_actor gateway) {
  auto& st = self->state;
  st.gateway = std::move(gateway);
  // The connection's loss arrives as a down message (within ms of a
  // closed socket; after connection_timeout for a silent peer).
  self->monitor(st.gateway);
  auto queued = std::move(st.queued);
  st.queued.clear();
  for (auto& request : queued)
    send(self, std::move(request));
}

void connect(remote_pointer self) {
  auto& st = self->state;
  st.connecting = true;
  self
    ->request(st.where->manager, caf::duration{st.where->connect_timeout},
              caf::connect_atom::value, st.where->host, st.where->port)
    .then(
      [self](caf::node_id&, caf::strong_actor_ptr& published, std::set<std::string>& ifs) {
        self->state.connecting = false;
        auto gateway = gateway_of(self->system(), *self->state.where, published, ifs);
        if (!gateway) {
          fail_queued(self, gateway.error().code, gateway.error().message);
          return;
        }
        adopt(self, std::move(*gateway));
      },
      [self](caf::error& err) {
        self->state.connecting = false;
        auto f = connect_failure(self->system(), *self->state.where, err);
        fail_queued(self, f.code, f.message);
      });
}

caf::result<entity_snapshot> submit(remote_pointer self, const entity_id& id,
                                    std::optional<command_envelope> command) {
  auto& st = self->state;
  pending request{self->make_response_promise<entity_snapshot>(), id, std::move(command), false};
  request.is_command = request.command.has_value();
  auto promise = request.promise;
  if (st.gateway) {
    send(self, std::move(request));
  } else {
    st.queued.push_back(std::move(request));
    if (!st.connecting)
      connect(self);
  }
  return promise;
}

/// Fails every request in flight: `why` they will not be answered. A
/// command was sent and may have been applied (ec::unknown_outcome); a get
/// changed nothing (ec::closing).
void fail_in_flight(remote_pointer self, const std::string& why) {
  auto in_flight = std::exchange(self->state.in_flight, {});
  for (auto& [key, request] : in_flight) {
    if (request.is_command)
      request.promise.deliver(
        fail(ec::unknown_outcome, request.id,
             why + " while a command was in flight: it may or may not have been applied; "
                   "read the entity back to know"));
    else
      request.promise.deliver(fail(ec::closing, request.id, why + " before the answer came"));
  }
}

/// The connection to the node is gone: every request in flight fails now
/// (rather than at its timeout), and the next request connects again.
void lost(remote_pointer self, const caf::error& reason) {
  auto& st = self->state;
  st.gateway = nullptr;
  fail_in_flight(self, "the connection to node " + st.where->name() + " was lost ("
                         + self->system().render(reason) + ")");
}

registry_actor::behavior_type remote_registry(remote_pointer self, std::string aggregate,
                                              std::shared_ptr<const remote_endpoint> where,
                                              node_gateway_actor gateway) {
  self->state.aggregate = std::move(aggregate);
  self->state.where = std::move(where);
  if (gateway)
    adopt(self, std::move(gateway));
  self->set_down_handler([self](caf::down_msg& down) {
    if (self->state.gateway && down.source == self->state.gateway.address())
      lost(self, down.reason);
  });
  self->set_exit_handler([self](caf::exit_msg& exit) {
    std::string why = "the remote application is closing";
    fail_queued(self, ec::closing, why); // never sent: nothing happened
    fail_in_flight(self, why);
    self->quit(exit.reason);
  });
  return {
    [=](execute_atom, const entity_id& id,
        command_envelope& command) -> caf::result<entity_snapshot> {
      return submit(self, id, std::move(command));
    },
    [=](caf::get_atom, const entity_id& id) -> caf::result<entity_snapshot> {
      return submit(self, id, std::nullopt);
    },
    [](passivate_atom, const entity_id&) {}, // no entity actors here
    [](stats_atom) { return registry_stats{}; },
  };
}

} // namespace

result<node_gateway_actor> gateway_of(caf::actor_system& system, const remote_endpoint& where,
                                      const caf::strong_actor_ptr& published,
                                      const std::set<std::string>& interface) {
  if (!published || !system.assignable<node_gateway_actor>(interface))
    return failure::make(ec::actor_error, "port " + where.name()
                                            + " does not serve a cafes node (another "
                                              "actor, or another version of the protocol)");
  return caf::actor_cast<node_gateway_actor>(published);
}

failure connect_failure(caf::actor_system& system, const remote_endpoint& where,
                        const caf::error& error) {
  if (error == caf::sec::request_timeout)
    return failure::make(ec::timeout, "no connection to node " + where.name() + " within "
                                        + std::to_string(where.connect_timeout.count())
                                        + " ms");
  std::string hint;
  if (error == caf::sec::disconnect_during_handshake)
    hint = ": the peer closed the handshake (a TLS node refuses a peer without a "
           "certificate of its CA, and plain TCP)";
  return failure::make(ec::closing, "cannot connect to node " + where.name() + " ("
                                      + system.render(error) + ")" + hint);
}

registry_actor spawn_remote_registry(caf::actor_system& system, std::string aggregate,
                                     std::shared_ptr<const remote_endpoint> where,
                                     node_gateway_actor gateway) {
  return system.spawn(remote_registry, std::move(aggregate), std::move(where),
                      std::move(gateway));
}

} // namespace cafes::net
