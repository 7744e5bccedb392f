#include "binding.h"

#include <cmath>
#include <exception>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "../../cuda/backend.h"
#include "thread_pool.h"

namespace rlcore {
namespace {

// Per-environment (main thread or worker_thread) state: the JS error class to throw.
struct AddonData {
  Napi::FunctionReference error_class;
};

std::vector<std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)>>& Registry() {
  static std::vector<std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)>> registry;
  return registry;
}

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message) {
  auto* data = env.GetInstanceData<AddonData>();
  if (data != nullptr && !data->error_class.IsEmpty()) {
    Napi::Object err = data->error_class.New({Napi::String::New(env, code), Napi::String::New(env, message)});
    return Napi::Error(env, err);
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

const char* TypeName(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number";
  if (v.IsBoolean()) return "boolean";
  if (v.IsString()) return "string";
  if (v.IsArray()) return "Array";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "Int8Array";
      case napi_uint8_array: return "Uint8Array";
      case napi_uint8_clamped_array: return "Uint8ClampedArray";
      case napi_int16_array: return "Int16Array";
      case napi_uint16_array: return "Uint16Array";
      case napi_int32_array: return "Int32Array";
      case napi_uint32_array: return "Uint32Array";
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_bigint64_array: return "BigInt64Array";
      case napi_biguint64_array: return "BigUint64Array";
      default: return "TypedArray";
    }
  }
  if (v.IsFunction()) return "function";
  return "object";
}

// One napi_get_typedarray_info call per argument: node-addon-api's accessors would make four.
template <class T>
ArrayArg<T> TypedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* type_name,
                     const char* kernel, const char* name, bool optional, size_t expected_length,
                     const Shape* shape, const std::string* shape_text) {
  Napi::Env env = info.Env();
  napi_value v = i < info.Length() ? static_cast<napi_value>(info[i]) : static_cast<napi_value>(env.Undefined());
  napi_typedarray_type actual = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  // napi_invalid_arg for anything but a typed array (no separate napi_is_typedarray call: in
  // cache, argument reading is a visible share of a kernel call).
  const bool is_typed = napi_get_typedarray_info(env, v, &actual, &length, &data, nullptr, nullptr) == napi_ok;
  if (!is_typed || actual != type) {
    Napi::Value value(env, v);
    if (optional && (value.IsUndefined() || value.IsNull())) return {};
    ThrowError(env, "ERR_DTYPE",
               std::string(kernel) + ": " + name + " must be a " + type_name + "; received " + TypeName(value));
  }
  ArrayArg<T> out;
  out.length = length;
  if (expected_length != SIZE_MAX && length != expected_length) {
    std::ostringstream msg;
    msg << kernel << ": " << name << " must have " << expected_length << " elements ("
        << (shape ? shape->Text() : *shape_text) << "); received " << length;
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  if (data == nullptr && length > 0) {
    ThrowError(env, "ERR_ARG", std::string(kernel) + ": " + name + " is backed by a detached ArrayBuffer");
  }
  // A zero-length array may have no backing store; point at a static element so `data` is non-null.
  static T empty_sentinel{};
  out.data = data ? static_cast<T*>(data) : &empty_sentinel;
  return out;
}

// Argument i as a number (one napi call: napi_number_expected for anything else); ERR_ARG otherwise.
double NumberValue(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  Napi::Env env = info.Env();
  double d = 0.0;
  if (i < info.Length() && napi_get_value_double(env, info[i], &d) == napi_ok) return d;
  Napi::Value v = i < info.Length() ? info[i] : env.Undefined();
  ThrowError(env, "ERR_ARG", std::string(kernel) + ": " + name + " must be a number; received " + TypeName(v));
}

// d if it lies in [lo, hi]; ERR_RANGE otherwise.
double InRange(Napi::Env env, const char* kernel, const char* name, double d, double lo, double hi) {
  if (!(d >= lo && d <= hi)) {
    std::ostringstream msg;
    msg << kernel << ": " << name << " must be finite and in [" << lo << ", " << hi << "]; received " << d;
    ThrowError(env, "ERR_RANGE", msg.str());
  }
  return d;
}

}  // namespace

void ThrowError(Napi::Env env, const char* code, const std::string& message) { throw MakeError(env, code, message); }

#define RLCORE_TYPED_ARG(Fn, T, napi_type, type_name)                                                      \
  ArrayArg<T> Fn(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, bool optional, \
                 size_t expected_length, const Shape& shape) {                                                  \
    return TypedArg<T>(info, i, napi_type, type_name, kernel, name, optional, expected_length, &shape, nullptr); \
  }                                                                                                            \
  ArrayArg<T> Fn(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, bool optional, \
                 size_t expected_length, const std::string& shape) {                                            \
    return TypedArg<T>(info, i, napi_type, type_name, kernel, name, optional, expected_length, nullptr, &shape); \
  }
RLCORE_TYPED_ARG(F32Arg, float, napi_float32_array, "Float32Array")
RLCORE_TYPED_ARG(F64Arg, double, napi_float64_array, "Float64Array")
RLCORE_TYPED_ARG(U8Arg, uint8_t, napi_uint8_array, "Uint8Array")
RLCORE_TYPED_ARG(I32Arg, int32_t, napi_int32_array, "Int32Array")
#undef RLCORE_TYPED_ARG

size_t SizeArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name) {
  Napi::Env env = info.Env();
  const double d = NumberValue(info, i, kernel, name);
  if (!(d >= 1 && d <= 1099511627776.0) || std::floor(d) != d) {
    std::ostringstream msg;
    msg << kernel << ": " << name << " must be a positive integer; received " << d;
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  return static_cast<size_t>(d);
}

size_t CheckedProduct(Napi::Env env, const char* kernel, const Shape& shape) {
  constexpr size_t kMax = size_t{1} << 40;
  size_t product = 1;
  for (size_t k = 0; k < shape.rank; ++k) {
    if (shape.sizes[k] != 0 && product > kMax / shape.sizes[k]) {
      ThrowError(env, "ERR_SHAPE", std::string(kernel) + ": " + shape.Text() + " has more than 2^40 elements");
    }
    product *= shape.sizes[k];
  }
  return product;
}

double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, double lo,
                 double hi) {
  return InRange(info.Env(), kernel, name, NumberValue(info, i, kernel, name), lo, hi);
}

bool BoolArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length()) return false;
  bool b = false;
  // A boolean (the wrappers' case) in one call; anything else by JS truthiness.
  if (napi_get_value_bool(info.Env(), info[i], &b) == napi_ok) return b;
  return info[i].ToBoolean().Value();
}

StepParam StepParamArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name, size_t T,
                       size_t N, double lo, double hi) {
  Napi::Env env = info.Env();
  StepParam p;
  double d = 0.0;
  if (i < info.Length() && napi_get_value_double(env, info[i], &d) == napi_ok) {  // a number: one napi call
    p.scalar = static_cast<float>(InRange(env, kernel, name, d, lo, hi));
    return p;
  }
  ArrayArg<float> arr = F32Arg(info, i, kernel, name, false, SIZE_MAX, Shape{});
  if (arr.length == T) {
    p.stride_t = 1;
  } else if (arr.length == T * N) {
    p.stride_t = N;
    p.stride_n = 1;
  } else {
    std::ostringstream msg;
    msg << kernel << ": " << name << " must be a number or a Float32Array of " << T << " ([T]) or " << T * N
        << " ([T, N]) elements; received " << arr.length << " elements";
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  for (size_t k = 0; k < arr.length; ++k) {
    if (!(arr.data[k] >= lo && arr.data[k] <= hi)) {
      std::ostringstream msg;
      msg << kernel << ": " << name << "[" << k << "] must be finite and in [" << lo << ", " << hi << "]; received "
          << arr.data[k];
      ThrowError(env, "ERR_RANGE", msg.str());
    }
  }
  p.values = arr.data;
  p.length = arr.length;
  return p;
}

Shape ShapeText(const char* dims, std::initializer_list<size_t> sizes) {
  Shape shape;
  shape.dims = dims;
  for (size_t v : sizes) {
    if (shape.rank < 4) shape.sizes[shape.rank++] = v;
  }
  return shape;
}

std::string Shape::Text() const {
  std::string s = std::string(dims) + " = [";
  for (size_t k = 0; k < rank; ++k) s += (k ? ", " : "") + std::to_string(sizes[k]);
  return s + "]";
}

void CheckNoOverlap(Napi::Env env, const char* kernel, const char* a_name, const void* a, size_t a_bytes,
                    const char* b_name, const void* b, size_t b_bytes) {
  auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  if (a != nullptr && b != nullptr && a_bytes > 0 && b_bytes > 0 && pa < pb + b_bytes && pb < pa + a_bytes) {
    ThrowError(env, "ERR_ARG",
               std::string(kernel) + ": " + a_name + " must not share memory with " + b_name);
  }
}

void CheckDevice(Napi::Env env, const char* kernel, bool use_cuda) {
  if (use_cuda && !cuda::Built()) {
    ThrowError(env, "ERR_DEVICE", std::string(kernel) + ": device 'cuda' requested but this addon was built without CUDA");
  }
}

namespace {

class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, std::function<void()> work, std::vector<Napi::Value> keep_alive)
      : Napi::AsyncWorker(env, "rlcore:kernel"), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {
    for (auto& v : keep_alive) {
      if (v.IsObject()) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    }
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      work_();
    } catch (const cuda::DeviceUnavailable& e) {
      device_error_ = true;
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(MakeError(Env(), device_error_ ? "ERR_DEVICE" : "ERR_NATIVE", e.Message()).Value());
  }

 private:
  std::function<void()> work_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;
  bool device_error_ = false;
};

}  // namespace

Napi::Value RunKernel(const Napi::CallbackInfo& info, bool async, std::function<void()> work,
                      std::vector<Napi::Value> keep_alive) {
  Napi::Env env = info.Env();
  if (!async) {
    try {
      work();
    } catch (const cuda::DeviceUnavailable& e) {
      ThrowError(env, "ERR_DEVICE", e.what());
    } catch (const std::exception& e) {
      ThrowError(env, "ERR_NATIVE", e.what());
    }
    return env.Undefined();
  }
  auto* worker = new KernelWorker(env, std::move(work), std::move(keep_alive));  // owned by libuv, self-deleting
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Registration::Registration(const char* name, Napi::Value (*fn)(const Napi::CallbackInfo&)) {
  Registry().emplace_back(name, fn);
}

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<AddonData>();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    ThrowError(info.Env(), "ERR_ARG", "setErrorClass: expected a constructor function");
  }
  data->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

int SimdWidthBits() {
#if defined(__AVX512F__)
  return 512;
#elif defined(__AVX__)
  return 256;
#elif defined(__SSE2__) || defined(__ARM_NEON) || defined(__aarch64__)
  return 128;
#else
  return 0;
#endif
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("threads", NumThreads());
  cpu.Set("simdWidthBits", SimdWidthBits());
  Napi::Array features = Napi::Array::New(env);
#if defined(__x86_64__) || defined(__i386__)
  uint32_t k = 0;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) features.Set(k++, "sse4.2");
  if (__builtin_cpu_supports("avx")) features.Set(k++, "avx");
  if (__builtin_cpu_supports("avx2")) features.Set(k++, "avx2");
  if (__builtin_cpu_supports("fma")) features.Set(k++, "fma");
  if (__builtin_cpu_supports("avx512f")) features.Set(k++, "avx512f");
#endif
  cpu.Set("cpuFeatures", features);

  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("built", cuda::Built());
  std::string error;
  std::vector<cuda::DeviceInfo> devices = cuda::Devices(&error);
  Napi::Array list = Napi::Array::New(env, devices.size());
  for (size_t d = 0; d < devices.size(); ++d) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", static_cast<double>(d));
    o.Set("name", devices[d].name);
    o.Set("computeCapability", devices[d].compute_capability);
    o.Set("memoryBytes", static_cast<double>(devices[d].memory_bytes));
    list.Set(static_cast<uint32_t>(d), o);
  }
  cuda.Set("devices", list);
  cuda.Set("status", error.empty() ? std::string(devices.empty() ? "no device" : "ok") : error);
  Napi::Object out = Napi::Object::New(env);
  out.Set("cpu", cpu);
  out.Set("cuda", cuda);
  out.Set("napiVersion", static_cast<double>(NAPI_VERSION));
  return out;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  double n = NumberArg(info, 0, "setNumThreads", "threads", 1, 256);
  SetNumThreads(static_cast<int>(n));
  return info.Env().Undefined();
}

// Test hook: a ParallelFor whose every chunk throws, so a test can check that the exception
// reaches JavaScript as an RlcoreError (ERR_NATIVE) instead of ending the process.
Napi::Value ThrowInParallelFor(const Napi::CallbackInfo& info) {
  return RunKernel(info, false, [] {
    ParallelFor(64, 1, [](size_t begin, size_t) { throw std::runtime_error("chunk " + std::to_string(begin) + " failed"); });
  }, KeepArgs{0, 0});
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());  // freed by N-API when this environment shuts down
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetThreads, "setNumThreads"));
  exports.Set("_throwInParallelFor", Napi::Function::New(env, ThrowInParallelFor, "_throwInParallelFor"));
  for (auto& [name, fn] : Registry()) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

}  // namespace rlcore

static Napi::Object InitRlcore(Napi::Env env, Napi::Object exports) { return rlcore::Init(env, exports); }
NODE_API_MODULE(rlcore, InitRlcore)
