// Native functions of CUDA builds only (CMakeLists.txt compiles cuda/*.cc; binding.gyp does not):
//   cudaBench(kernel, T, N, iters) -> { ms, bytes, elements, gbPerSecond, path }
//     times `iters` launches of a CUDA kernel on device-resident [T, N] data (no PCIe copies);
//   cudaBenchKernels() -> string[]   the kernels cudaBench knows.
#include <stdexcept>
#include <string>
#include <vector>

#include "../native/core/binding.h"
#include "backend.h"

namespace rlcore {
namespace {

Napi::Value CudaBenchKernels(const Napi::CallbackInfo& info) {
  const std::vector<std::string> names = cuda::BenchKernels();
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (size_t k = 0; k < names.size(); ++k) out.Set(static_cast<uint32_t>(k), names[k]);
  return out;
}

Napi::Value CudaBench(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "cudaBench";
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowError(env, "ERR_ARG", "cudaBench: kernel must be a string (one of cudaBenchKernels())");
  }
  const std::string kernel = info[0].As<Napi::String>().Utf8Value();
  const size_t T = SizeArg(info, 1, kKernel, "T");
  const size_t N = SizeArg(info, 2, kKernel, "N");
  const int iters = static_cast<int>(NumberArg(info, 3, kKernel, "iters", 1, 100000));
  if (T > (size_t{1} << 40) / N) {
    ThrowError(env, "ERR_SHAPE", "cudaBench: T * N must be at most 2^40; received " + ShapeText("[T, N]", {T, N}).Text());
  }
  std::vector<std::string> known = cuda::BenchKernels();
  bool found = false;
  std::string list;
  for (const auto& name : known) {
    found = found || name == kernel;
    list += (list.empty() ? "" : ", ") + name;
  }
  if (!found) ThrowError(env, "ERR_ARG", "cudaBench: unknown kernel '" + kernel + "'; expected one of: " + list);
  std::string error;
  if (cuda::Devices(&error).empty()) {
    ThrowError(env, "ERR_DEVICE", "cudaBench: no CUDA device (" + (error.empty() ? "none found" : error) + ")");
  }
  cuda::BenchResult r;
  try {
    r = cuda::Bench(kernel, T, N, iters);
  } catch (const cuda::DeviceUnavailable& e) {
    ThrowError(env, "ERR_DEVICE", std::string("cudaBench(") + kernel + "): " + e.what());
  } catch (const std::exception& e) {
    ThrowError(env, "ERR_NATIVE", std::string("cudaBench(") + kernel + "): " + e.what());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("ms", r.ms);
  out.Set("bytes", r.bytes);
  out.Set("elements", r.elements);
  out.Set("gbPerSecond", r.ms > 0 ? r.bytes / (r.ms * 1e6) : 0.0);
  out.Set("path", r.path);
  return out;
}

}  // namespace

RLCORE_EXPORT(cudaBench, CudaBench);
RLCORE_EXPORT(cudaBenchKernels, CudaBenchKernels);

}  // namespace rlcore
