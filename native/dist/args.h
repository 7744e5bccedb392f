// Binding-side argument readers shared by the distribution and loss kernels (napi).
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "../core/binding.h"

namespace rlcore {

/// A seed: an integer in [0, 2^53].
inline uint64_t SeedArg(const Napi::CallbackInfo& info, size_t i, const char* kernel) {
  const double d = NumberArg(info, i, kernel, "seed", 0.0, 9007199254740992.0);
  if (std::floor(d) != d) {
    std::ostringstream msg;
    msg << kernel << ": seed must be an integer in [0, 2^53]; received " << d;
    ThrowError(info.Env(), "ERR_RANGE", msg.str());
  }
  return static_cast<uint64_t>(d);
}

/// B * A, checked to stay within 2^40 elements (so that no product of sizes wraps around).
inline size_t ElementsArg(Napi::Env env, const char* kernel, size_t B, size_t A) {
  if (B > (size_t{1} << 40) / A) {
    std::ostringstream msg;
    msg << kernel << ": [B, A] = [" << B << ", " << A << "] has more than 2^40 elements";
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  return B * A;
}

/// An upstream gradient per row: a finite number (the same for every row) or a Float32Array [B]
/// of finite values; undefined/null means 0.
inline StepParam RowGradArg(const Napi::CallbackInfo& info, size_t i, const char* kernel, const char* name,
                            size_t B) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return StepParam{};
  return StepParamArg(info, i, kernel, name, B, 1, -DBL_MAX, DBL_MAX);
}

/// Throws ERR_RANGE unless every index lies in [0, n).
inline void CheckIndices(Napi::Env env, const char* kernel, const char* name, const int32_t* idx, size_t count,
                         size_t n) {
  for (size_t b = 0; b < count; ++b) {
    if (idx[b] < 0 || static_cast<size_t>(idx[b]) >= n) {
      std::ostringstream msg;
      msg << kernel << ": " << name << "[" << b << "] must be in [0, " << n << "); received " << idx[b];
      ThrowError(env, "ERR_RANGE", msg.str());
    }
  }
}

/// Output-vs-input aliasing checks for a list of (name, pointer, bytes).
struct Region {
  const char* name;
  const void* data;
  size_t bytes;
};
template <size_t NO, size_t NI>
void CheckRegions(Napi::Env env, const char* kernel, const Region (&outs)[NO], const Region (&ins)[NI]) {
  for (size_t o = 0; o < NO; ++o) {
    for (size_t i = 0; i < NI; ++i)
      CheckNoOverlap(env, kernel, outs[o].name, outs[o].data, outs[o].bytes, ins[i].name, ins[i].data, ins[i].bytes);
    for (size_t o2 = o + 1; o2 < NO; ++o2)
      CheckNoOverlap(env, kernel, outs[o].name, outs[o].data, outs[o].bytes, outs[o2].name, outs[o2].data,
                     outs[o2].bytes);
  }
}

}  // namespace rlcore
