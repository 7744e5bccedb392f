// Shared pieces of the N-API binding: typed errors, argument guards, kernel registration, and
// running a kernel inline or on a libuv worker behind a promise.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../../cuda/backend.h"
#include "step_param.h"

namespace rlcore {

/// Throws the JS `RlcoreError` (registered by the TS loader) with a string code.
[[noreturn]] void ThrowError(Napi::Env env, const char* code, const std::string& message);

/// A typed array argument read in place. `data` is null only for an absent optional argument.
template <class T>
struct ArrayArg {
  T* data = nullptr;
  size_t length = 0;
  explicit operator bool() const { return data != nullptr; }
};

/// A shape for error messages, e.g. "[T, N] = [128, 64]"; formatted only when an error is thrown.
struct Shape {
  const char* dims = "";
  size_t sizes[4] = {0, 0, 0, 0};
  size_t rank = 0;
  std::string Text() const;
  operator std::string() const { return Text(); }  // NOLINT: implicit on purpose
};

/// Reads argument `i` as a typed array of the given element type; throws ERR_DTYPE otherwise.
/// `optional` accepts undefined/null (returns an empty ArrayArg). `expected_length` (if not
/// SIZE_MAX) is checked and reported with `shape` as ERR_SHAPE.
ArrayArg<float> F32Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                       bool optional, size_t expected_length, const Shape& shape);
ArrayArg<double> F64Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                        bool optional, size_t expected_length, const Shape& shape);
ArrayArg<uint8_t> U8Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                        bool optional, size_t expected_length, const Shape& shape);
ArrayArg<int32_t> I32Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                         bool optional, size_t expected_length, const Shape& shape);
/// Same, with a preformatted shape text.
ArrayArg<float> F32Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                       bool optional, size_t expected_length, const std::string& shape);
ArrayArg<double> F64Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                        bool optional, size_t expected_length, const std::string& shape);
ArrayArg<uint8_t> U8Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                        bool optional, size_t expected_length, const std::string& shape);
ArrayArg<int32_t> I32Arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                         bool optional, size_t expected_length, const std::string& shape);

/// A positive integer size argument (1 .. 2^40); ERR_ARG / ERR_SHAPE otherwise.
size_t SizeArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name);
/// The product of sizes (e.g. T*N); ERR_SHAPE if it exceeds 2^40 elements (no overflow possible).
size_t CheckedProduct(Napi::Env env, const char* kernel, const Shape& shape);
/// A finite number argument within [lo, hi]; ERR_ARG / ERR_RANGE otherwise.
double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, double lo,
                 double hi);
bool BoolArg(const Napi::CallbackInfo& info, size_t i);

/// Reads a per-step parameter (gamma, lambda, ...): a number, or a Float32Array of length T (one
/// per step) or T*N (one per step and column). Values are checked to lie in [lo, hi].
StepParam StepParamArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, size_t T,
                       size_t N, double lo, double hi);

/// The shape `dims = [sizes...]` (up to 4 sizes), e.g. ShapeText("[T, N]", {T, N}); cheap until formatted.
Shape ShapeText(const char* dims, std::initializer_list<size_t> sizes);

/// For an asynchronous call, a private copy of the checked index array data[0, n) (ids, offsets,
/// lengths, indices), for the kernel to read instead of the caller's array: JS may write to that
/// array before the call settles, and a changed index must not take the kernel out of bounds.
/// Null for a synchronous call. The work keeps the copy alive by capturing it.
template <class T>
std::shared_ptr<const std::vector<T>> AsyncIndexCopy(bool async, const T* data, size_t n) {
  if (!async || !data) return nullptr;
  return std::make_shared<const std::vector<T>>(data, data + n);
}

/// Throws ERR_ARG if two arrays share memory (an output must not alias an input).
void CheckNoOverlap(Napi::Env env, const char* kernel, const char* a_name, const void* a, size_t a_bytes,
                    const char* b_name, const void* b, size_t b_bytes);

/// Runs `work` now (returns undefined) or, when `async` is true, on a libuv worker and returns a
/// promise. Values in `keep_alive` (the typed arrays the work reads and writes) are referenced
/// until the work finishes. `work` must not touch N-API; it may throw std::exception, which
/// becomes an ERR_NATIVE error (or rejection).
Napi::Value RunKernel(const Napi::CallbackInfo& info, bool async, std::function<void()> work,
                      std::vector<Napi::Value> keep_alive);

/// Arguments info[first, last) to keep alive while an async kernel runs.
struct KeepArgs {
  size_t first, last;
};

/// Same as above without allocating on the synchronous path (the hot one in training loops).
template <class Work>
Napi::Value RunKernel(const Napi::CallbackInfo& info, bool async, Work&& work, KeepArgs keep) {
  if (!async) {
    try {
      work();
    } catch (const cuda::DeviceUnavailable& e) {
      ThrowError(info.Env(), "ERR_DEVICE", e.what());
    } catch (const std::exception& e) {
      ThrowError(info.Env(), "ERR_NATIVE", e.what());
    }
    return info.Env().Undefined();
  }
  std::vector<Napi::Value> keep_alive;
  for (size_t k = keep.first; k < keep.last && k < info.Length(); ++k) keep_alive.push_back(info[k]);
  return RunKernel(info, true, std::function<void()>(std::forward<Work>(work)), std::move(keep_alive));
}

/// Throws ERR_DEVICE when `use_cuda` is set but this addon has no CUDA backend.
void CheckDevice(Napi::Env env, const char* kernel, bool use_cuda);

/// Registers a native function under `name` on the addon's exports (called at static init).
struct Registration {
  Registration(const char* name, Napi::Value (*fn)(const Napi::CallbackInfo&));
};
#define RLCORE_EXPORT(name, fn) static ::rlcore::Registration rlcore_registration_##name(#name, fn)

}  // namespace rlcore
