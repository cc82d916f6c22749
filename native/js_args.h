// js_args.h — reading arguments that TypeScript already validated (lib/): a value of the wrong
// type here is a bug in vpt-native, reported as VPT_ARGUMENT naming the key.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "errors.h"

namespace vpt {

inline void require(bool ok, const std::string& what) {
  if (!ok) throw Error(kErrArgument, what);
}

inline int64_t int_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsNumber(), std::string("expected a number for '") + key + "'");
  return v.As<Napi::Number>().Int64Value();
}

inline double number_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsNumber(), std::string("expected a number for '") + key + "'");
  return v.As<Napi::Number>().DoubleValue();
}

inline bool bool_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsBoolean(), std::string("expected a boolean for '") + key + "'");
  return v.As<Napi::Boolean>().Value();
}

inline std::string string_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsString(), std::string("expected a string for '") + key + "'");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace vpt
