// servebench — deferred<T, Param>: the type T, named through a template parameter, so that a template built on it
// is built only where it is used (see "Deferred" in serialize.hpp).
#pragma once

namespace servebench {

template <class T, class>
struct deferred_type {
  using type = T;
};
template <class T, class Param>
using deferred = typename deferred_type<T, Param>::type;

}  // namespace servebench
