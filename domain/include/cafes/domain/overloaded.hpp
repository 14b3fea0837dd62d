#pragma once
// `overloaded{lambda...}`: one visitor from several lambdas, for std::visit.

namespace cafes {

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};

} // namespace cafes
