// Minibatch plumbing for on-policy updates: a seeded random permutation (the shuffle of a
// rollout into minibatches) and a row gather (copying the minibatch's rows out of the rollout).
//
//   permutation: Fisher–Yates (Knuth, TAOCP vol. 2, Algorithm P) driven by Philox stream
//                (seed, stream): for i = n-1 .. 1, j = Below(i + 1), swap(out[i], out[j]).
//   gatherRows:  out[j, :] = x[indices[j], :] for j in [0, k), rows of `width` 32-bit values.
//
// The same (seed, stream) gives the same permutation on every machine and thread count, so a
// run resumed from a checkpoint shuffles exactly as an uninterrupted one.
#include <cstring>
#include <string>

#include "../core/binding.h"
#include "../core/rng.h"

namespace rlcore {
namespace {

// permutation(n, seed, stream, out: Int32Array[n])
Napi::Value PermutationBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "permutation";
  Napi::Env env = info.Env();
  const size_t n = SizeArg(info, 0, kKernel, "n");
  if (n > 2147483647u) ThrowError(env, "ERR_RANGE", "permutation: n must be at most 2^31 - 1 (Int32 indices)");
  const double seed = NumberArg(info, 1, kKernel, "seed", 0.0, 9007199254740992.0);
  const double stream = NumberArg(info, 2, kKernel, "stream", 0.0, 9007199254740992.0);
  if (seed != static_cast<double>(static_cast<uint64_t>(seed)) || stream != static_cast<double>(static_cast<uint64_t>(stream))) {
    ThrowError(env, "ERR_RANGE", "permutation: seed and stream must be integers");
  }
  int32_t* out = I32Arg(info, 3, kKernel, "out", false, n, ShapeText("[n]", {n})).data;
  RandomStream rng(static_cast<uint64_t>(seed), static_cast<uint64_t>(stream));
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int32_t>(i);
  for (size_t i = n - 1; i > 0; --i) {
    const size_t j = rng.Below(static_cast<uint32_t>(i + 1));
    const int32_t t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return env.Undefined();
}

// A Float32Array or Int32Array argument as raw 32-bit words; `is_int` says which.
const uint32_t* WordsArg(const Napi::CallbackInfo& info, size_t i, const char* name, size_t length, const Shape& shape,
                         bool* is_int, bool want_int, bool check_type) {
  constexpr const char* kKernel = "gatherRows";
  const Napi::Value v = info[i];
  const bool int_array = v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array;
  if (check_type && int_array != want_int) {
    ThrowError(info.Env(), "ERR_DTYPE",
               std::string(kKernel) + ": " + name + " must be " + (want_int ? "an Int32Array" : "a Float32Array") + " like x");
  }
  *is_int = int_array;
  if (int_array) return reinterpret_cast<const uint32_t*>(I32Arg(info, i, kKernel, name, false, length, shape).data);
  return reinterpret_cast<const uint32_t*>(F32Arg(info, i, kKernel, name, false, length, shape).data);
}

// gatherRows(rows, width, x: F32|I32 [rows, width], indices: I32 [k], out: same dtype [k, width])
Napi::Value GatherRowsBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "gatherRows";
  Napi::Env env = info.Env();
  const size_t rows = SizeArg(info, 0, kKernel, "rows");
  const size_t width = SizeArg(info, 1, kKernel, "width");
  const Shape xs = ShapeText("[R, W]", {rows, width});
  const size_t total = CheckedProduct(env, kKernel, xs);
  bool x_int = false, out_int = false;
  const uint32_t* x = WordsArg(info, 2, "x", total, xs, &x_int, false, false);
  ArrayArg<int32_t> idx = I32Arg(info, 3, kKernel, "indices", false, SIZE_MAX, "");
  const size_t k = idx.length;
  if (k == 0) ThrowError(env, "ERR_SHAPE", "gatherRows: indices must not be empty");
  const Shape os = ShapeText("[k, W]", {k, width});
  const size_t out_len = CheckedProduct(env, kKernel, os);
  uint32_t* out = const_cast<uint32_t*>(WordsArg(info, 4, "out", out_len, os, &out_int, x_int, true));
  for (size_t j = 0; j < k; ++j) {
    if (idx.data[j] < 0 || static_cast<size_t>(idx.data[j]) >= rows) {
      ThrowError(env, "ERR_RANGE", "gatherRows: indices[" + std::to_string(j) + "] must be in [0, " +
                                       std::to_string(rows) + "); received " + std::to_string(idx.data[j]));
    }
  }
  CheckNoOverlap(env, kKernel, "out", out, out_len * 4, "x", x, total * 4);
  CheckNoOverlap(env, kKernel, "out", out, out_len * 4, "indices", idx.data, k * 4);
  const int32_t* ix = idx.data;
  if (width == 1) {
    for (size_t j = 0; j < k; ++j) out[j] = x[ix[j]];
  } else {
    for (size_t j = 0; j < k; ++j) std::memcpy(out + j * width, x + static_cast<size_t>(ix[j]) * width, width * 4);
  }
  return env.Undefined();
}

}  // namespace

RLCORE_EXPORT(permutation, PermutationBinding);
RLCORE_EXPORT(gatherRows, GatherRowsBinding);

}  // namespace rlcore
