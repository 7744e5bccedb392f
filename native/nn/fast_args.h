// Argument readers for the per-step network calls, where N-API overhead is most of a batch-1
// forward: they read a typed array with one napi_get_typedarray_info call and build no strings
// unless the argument is wrong, in which case the shared guards in binding.h produce the error.
#pragma once
#include <string>

#include "../core/binding.h"

namespace rlcore::nn {

/// A Float32Array of exactly `expected` elements (or absent when `optional`); otherwise throws
/// the same typed error as F32Arg, with the shape text built from `dims` and `sizes`.
inline float* FastF32(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, bool optional,
                      size_t expected, const char* dims, std::initializer_list<size_t> sizes) {
  if (i < info.Length()) {
    napi_value v = info[i];
    napi_env env = info.Env();
    napi_valuetype t;
    if (optional && napi_typeof(env, v, &t) == napi_ok && (t == napi_undefined || t == napi_null)) return nullptr;
    bool is_typed = false;
    if (napi_is_typedarray(env, v, &is_typed) == napi_ok && is_typed) {
      napi_typedarray_type type;
      size_t length = 0;
      void* data = nullptr;
      if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) == napi_ok &&
          type == napi_float32_array && length == expected && (data != nullptr || expected == 0)) {
        return static_cast<float*>(data);
      }
    }
  }
  return F32Arg(info, i, kernel, name, optional, expected, ShapeText(dims, sizes)).data;
}

/// A positive integer size (see SizeArg), read without building strings when valid.
inline size_t FastSize(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  if (i < info.Length()) {
    double d = 0;
    if (napi_get_value_double(info.Env(), info[i], &d) == napi_ok && d >= 1 && d <= 1099511627776.0 &&
        static_cast<double>(static_cast<size_t>(d)) == d) {
      return static_cast<size_t>(d);
    }
  }
  return SizeArg(info, i, kernel, name);
}

}  // namespace rlcore::nn
