// servebench — how plain data becomes JSON and back, with each fact said once:
//
//   * an enum's spellings live in one table, EnumNames<E>, which feeds to_string, enum_from_string and JSON;
//   * a struct's fields live in one list, json_fields(const S*), which feeds to_json and from_json.
//
// Reading is strict where nlohmann's get<>() is not: a float where an integer belongs (1e30 into a count), a
// negative value for an unsigned field or a value out of the field's range is an error naming the field, never a
// silent conversion (that conversion is undefined behaviour; found by fuzzing). A field missing from the JSON keeps
// the struct's default unless the list marks it required, which is how files written by older versions still read.
//
// Deferred: field lists and the JSON functions of enums are templates (`template <class Deferred = void>`, building its
// list with field_list<Deferred>), so the list types and nlohmann's conversions they need are built only in a
// translation unit that reads or writes that type; one that includes <servebench.hpp> and never touches JSON does not
// pay for them. The same holds for the library's larger optional bodies (summaries, readiness, reports, charts, old
// artifacts): they take their main argument as a template parameter that defaults to the one type they are for
// (`template <class Levels = std::vector<LevelResult>>`), so the compiler reads their bodies only where they are
// called. Callers never name the parameter. Inside a template, a type that does not depend on its parameters (a member
// `std::optional<JsonlRecordWriter>`, a local `std::vector<const Summary*>`) is still built where the template is
// defined; `deferred<T, Param>` names it through the parameter so that it is built only where the template is used.
// A class template such as std::optional<X> costs a translation unit about 0.8 MB of the compiler's memory and 20 ms
// per distinct X; bench/compile_time.py measures the effect.
//
//   struct Point { int x = 0; std::optional<double> weight; };  // in namespace servebench: ADL finds its to_json
//   template <class Deferred = void>
//   auto json_fields(const Point*) {
//     using servebench::field, servebench::required;
//     return servebench::field_list<Deferred>(required("x", &Point::x), field("weight", &Point::weight));
//   }
//   // nlohmann::json j = Point{1, {}};  -> {"x": 1, "weight": null};  j.get<Point>() reads it back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "deferred.hpp"

namespace servebench {

// ---------------------------------------------------------------------------------------------------------------
// Enums: specialise EnumNames<E> with `static constexpr EnumName<E> entries[]` (the first entry of a value is its
// spelling; later entries of the same value are accepted when reading, for names older files used) and
// `static constexpr const char* what` (the enum's name for a person, used in errors).
template <class E>
struct EnumNames;

// One entry of a table: a plain struct, not a std::pair, whose constructors' constraints every table would build.
template <class E>
struct EnumName {
  E value;
  const char* name;
};

namespace detail {
template <class E, class = void>
struct has_enum_names : std::false_type {};
template <class E>
struct has_enum_names<E, std::void_t<decltype(EnumNames<E>::entries)>> : std::true_type {};
}  // namespace detail

template <class E, std::enable_if_t<detail::has_enum_names<E>::value, int> = 0>
const char* to_string(E value) noexcept {
  for (const auto& entry : EnumNames<E>::entries)
    if (entry.value == value) return entry.name;
  return EnumNames<E>::entries[0].name;
}

// The canonical spellings, "a, b, c", for error messages and --help.
template <class E>
std::string enum_spellings(const char* separator = ", ") {
  std::string out;
  for (std::size_t i = 0; i < std::size(EnumNames<E>::entries); ++i) {
    const auto& entry = EnumNames<E>::entries[i];
    if (to_string(entry.value) != std::string(entry.name)) continue;  // an alias
    out += (out.empty() ? "" : separator) + std::string(entry.name);
  }
  return out;
}

// Throws std::invalid_argument naming the valid spellings.
template <class E>
E enum_from_string(const std::string& name) {
  for (const auto& entry : EnumNames<E>::entries)
    if (name == entry.name) return entry.value;
  throw std::invalid_argument("unknown " + std::string(EnumNames<E>::what) + " '" + name +
                              "' (valid: " + enum_spellings<E>() + ")");
}

// JSON for an enum with a table, as its spelling. More specialised than nlohmann's own enum conversion (which would
// write the number), so these are the ones ADL picks; templates on the JSON type, as NLOHMANN_JSON_SERIALIZE_ENUM's.
#define SERVEBENCH_ENUM_JSON(E)                                               \
  template <class Json>                                                       \
  void to_json(Json& j, E value) {                                            \
    j = ::servebench::to_string(value);                                       \
  }                                                                           \
  template <class Json>                                                       \
  void from_json(const Json& j, E& value) {                                   \
    if (!j.is_string()) throw std::invalid_argument("must be a string");      \
    value = ::servebench::enum_from_string<E>(j.template get<std::string>()); \
  }

// ---------------------------------------------------------------------------------------------------------------
// Structs: json_fields(const S*) returns field_list(field(...), required(...), ...), found by ADL.
template <class S, class T>
struct Field {
  const char* name;
  T S::*member;
  bool required;
};
template <class S, class T>
constexpr Field<S, T> field(const char* name, T S::*member) {
  return {name, member, false};
}
template <class S, class T>
constexpr Field<S, T> required(const char* name, T S::*member) {
  return {name, member, true};
}
// The list: a callable that hands each entry to a visitor, list([](const auto& field) {...}). Not a std::tuple:
// a tuple of 30 field types costs a translation unit about 0.1 s to build (its constructors' constraints), this
// costs nearly nothing (bench/compile_time.py). `Deferred`: a json_fields' own parameter, passed on so that the list is
// built only where the struct is read or written (field_list<Deferred>(...), see "Deferred" above); it is otherwise
// unused.
template <class Deferred = void, class... Fs>
constexpr auto field_list(Fs... entries) {
  return [entries...](auto&& visit) { (visit(entries), ...); };
}

// A field that cannot be read: `path` is where ("levels/0/records/3/t_send"), the message says why.
struct FieldError : std::invalid_argument {
  FieldError(std::string path_, const std::string& why)
      : std::invalid_argument(path_ + ": " + why), path(std::move(path_)), reason(why) {}
  std::string path, reason;
};

namespace detail {

template <class S, class = void>
struct has_json_fields : std::false_type {};
template <class S>
struct has_json_fields<S, std::void_t<decltype(json_fields(static_cast<const S*>(nullptr)))>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class T, class C, class A>
struct is_string_map<std::map<std::string, T, C, A>> : std::true_type {};

// The JSON type is a template parameter (always nlohmann::json), so that the calls on it are checked only where a
// type is read or written (see "Deferred" above).
template <class Json, class T>
void read_value(const Json& j, T& out);
template <class Json, class S, class T>
void read_field(const Json& object, const Field<S, T>& f, S& out);

// Prefixes the path of an error raised while reading `key` (an object key or an array index).
template <class F>
void at_key(const std::string& key, F&& read) {
  try {
    read();
  } catch (const FieldError& e) {
    throw FieldError(key + "/" + e.path, e.reason);
  } catch (const std::exception& e) {
    throw FieldError(key, e.what());
  }
}

template <class Json, class T>
void read_integer(const Json& j, T& out) {
  if (!j.is_number_integer()) throw std::invalid_argument("must be an integer");
  if (j.is_number_unsigned()) {
    const auto v = j.template get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) throw std::invalid_argument("is out of range");
    out = static_cast<T>(v);
    return;
  }
  const auto v = j.template get<std::int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (v < 0) throw std::invalid_argument("must not be negative");
    if (static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
      throw std::invalid_argument("is out of range");
  } else {
    if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        v > static_cast<std::int64_t>(std::numeric_limits<T>::max()))
      throw std::invalid_argument("is out of range");
  }
  out = static_cast<T>(v);
}

template <class Json, class T>
void read_value(const Json& j, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) throw std::invalid_argument("must be true or false");
    out = j.template get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    read_integer(j, out);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) throw std::invalid_argument("must be a number");
    out = j.template get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) throw std::invalid_argument("must be a string");
    out = j.template get<std::string>();
  } else if constexpr (std::is_same_v<T, Json>) {
    out = j;
  } else if constexpr (is_optional<T>::value) {
    if (j.is_null()) {
      out.reset();
    } else {
      typename T::value_type value{};
      read_value(j, value);
      out = std::move(value);
    }
  } else if constexpr (is_vector<T>::value) {
    if (!j.is_array()) throw std::invalid_argument("must be a list");
    out.clear();
    out.resize(j.size());
    for (std::size_t i = 0; i < j.size(); ++i) at_key(std::to_string(i), [&] { read_value(j[i], out[i]); });
  } else if constexpr (is_string_map<T>::value) {
    if (!j.is_object()) throw std::invalid_argument("must be an object");
    out.clear();
    for (auto it = j.begin(); it != j.end(); ++it) at_key(it.key(), [&] { read_value(it.value(), out[it.key()]); });
  } else if constexpr (has_json_fields<T>::value) {
    if (!j.is_object()) throw std::invalid_argument("must be an object");
    json_fields(static_cast<const T*>(nullptr))([&](const auto& f) { read_field(j, f, out); });
  } else {
    j.get_to(out);  // a type with its own from_json (enums with a table, LogHistogram)
  }
}

template <class Json, class S, class T>
void read_field(const Json& object, const Field<S, T>& f, S& out) {
  const auto it = object.find(f.name);
  if (it == object.end()) {
    if (f.required) throw FieldError(f.name, "is missing");
    return;
  }
  at_key(f.name, [&] { read_value(*it, out.*(f.member)); });
}

template <class Json, class T>
void write_value(Json& j, const T& value) {
  if constexpr (is_optional<T>::value) {
    if (value)
      write_value(j, *value);
    else
      j = nullptr;
  } else if constexpr (is_vector<T>::value) {
    j = Json::array();
    for (const auto& v : value) write_value(j.emplace_back(), v);
  } else if constexpr (is_string_map<T>::value) {
    j = Json::object();
    for (const auto& [k, v] : value) write_value(j[k], v);
  } else if constexpr (has_json_fields<T>::value) {
    j = Json::object();
    json_fields(static_cast<const T*>(nullptr))([&](const auto& f) { write_value(j[f.name], value.*(f.member)); });
  } else {
    j = value;
  }
}

}  // namespace detail

// to_json / from_json for every struct with a field list (ADL finds these for servebench's types).
template <class S, std::enable_if_t<detail::has_json_fields<S>::value, int> = 0>
void to_json(nlohmann::json& j, const S& value) {
  detail::write_value(j, value);
}
template <class S, std::enable_if_t<detail::has_json_fields<S>::value, int> = 0>
void from_json(const nlohmann::json& j, S& value) {
  detail::read_value(j, value);
}

}  // namespace servebench
