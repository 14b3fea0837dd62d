#pragma once
// result<T>: a value or a cafes::failure, for functions that can fail without
// throwing (storage, codecs, domain decisions).

#include <utility>
#include <variant>

#include "cafes/domain/error.hpp"

namespace cafes {

/// Ignoring one is a warning: a failure dropped unread is a lost error.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  result(failure error) : data_(std::in_place_index<1>, std::move(error)) {}

  /// Returns true when this holds a value.
  bool ok() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// Returns the value. Precondition: `ok()`.
  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  /// Returns the failure. Precondition: `!ok()`.
  const failure& error() const& { return std::get<1>(data_); }
  failure&& error() && { return std::get<1>(std::move(data_)); }

private:
  std::variant<T, failure> data_;
};

/// The value of a `result` that has nothing to return but success.
struct done {
  friend bool operator==(done, done) = default;
};

} // namespace cafes
