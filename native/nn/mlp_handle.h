// The network handle JS holds (an External from nnMlpCreate) and the guards every binding that
// runs a network uses: the type-tag check, the busy flag against overlapping calls, and growing
// caches on the JS thread. Shared by mlp.cc and the fused kernels that drive networks
// (ppo_update.cc).
#pragma once
#include <atomic>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>

#include "../core/binding.h"
#include "mlp.h"

namespace rlcore::nn {

/// The network plus a guard against overlapping calls (an async pass in flight owns the caches
/// and scratch until it settles).
struct MlpHandle {
  Mlp mlp;
  std::atomic<bool> busy{false};
};

inline constexpr napi_type_tag kMlpTag = {0x8f2c1d5e6a7b4c3dULL, 0x9e0f1a2b3c4d5e6fULL};

/// Argument `i` as a network handle; ERR_ARG otherwise.
inline MlpHandle* HandleArg(const Napi::CallbackInfo& info, size_t i, const char* kernel) {
  Napi::Env env = info.Env();
  Napi::Value v = i < info.Length() ? info[i] : env.Undefined();
  bool ok = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kMlpTag, &ok);
  if (!ok) ThrowError(env, "ERR_ARG", std::string(kernel) + ": expected a network handle from nnMlpCreate");
  return v.As<Napi::External<MlpHandle>>().Data();
}

/// Marks the handle free again when it goes out of scope (also when the work throws).
struct BusyGuard {
  MlpHandle* h;
  ~BusyGuard() {
    if (h) h->busy.store(false);
  }
};

/// Marks the handle busy; ERR_ARG if an async call holds it.
inline void Acquire(Napi::Env env, MlpHandle* h, const char* kernel) {
  bool expected = false;
  if (!h->busy.compare_exchange_strong(expected, true)) {
    ThrowError(env, "ERR_ARG", std::string(kernel) + ": the network is in use by a pending async call");
  }
}

/// Grows caches on the JS thread, before anything is written; a failed allocation is the
/// caller's batch being too large, not a bug.
template <class F>
void Prepare(Napi::Env env, const char* kernel, size_t batch, F&& grow) {
  try {
    grow();
  } catch (const std::bad_alloc&) {
    std::ostringstream msg;
    msg << kernel << ": cannot allocate the scratch for a batch of " << batch << " rows";
    ThrowError(env, "ERR_RANGE", msg.str());
  } catch (const std::length_error&) {
    std::ostringstream msg;
    msg << kernel << ": batch of " << batch << " rows is too large";
    ThrowError(env, "ERR_RANGE", msg.str());
  }
}

}  // namespace rlcore::nn
