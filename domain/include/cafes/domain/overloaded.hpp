#pragma once
// `overloaded{lambda...}`: one visitor from several lambdas, for std::visit.

namespace cafes {

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};

// C++20 deduces this for aggregates; clang 14 (the fuzz build) does not yet.
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

} // namespace cafes
