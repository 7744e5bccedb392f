// Running mean and variance for observation / reward normalisation, merged batch by batch with
// the parallel algorithm of Chan, Golub & LeVeque (1979):
//
//   δ = mean_B - mean,  n' = n + n_B,  mean' = mean + δ n_B / n',
//   var' = (var n + var_B n_B + δ² n n_B / n') / n'
//
// (population variances; Gymnasium's RunningMeanStd). The state (mean[D], var[D], count) lives
// in caller-owned Float64Arrays so it can be saved with a checkpoint. Accumulation in float64.
//
//   runningStatsUpdate(B, D, x[B, D], mean[D], var[D], count[1])
//   runningStatsNormalize(B, D, x[B, D], mean[D], var[D], epsilon, clip, out[B, D])
//     out = clamp((x - mean) / sqrt(var + epsilon), -clip, clip); out may be x itself.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/binding.h"

namespace rlcore {
namespace envs {
namespace {

Napi::Value Update(const Napi::CallbackInfo& info) {
  const char* k = "runningStatsUpdate";
  const size_t B = SizeArg(info, 0, k, "B"), D = SizeArg(info, 1, k, "D");
  if (B * D > (size_t{1} << 34)) ThrowError(info.Env(), "ERR_SHAPE", "runningStatsUpdate: B * D is too large");
  const std::string d_shape = ShapeText("[D]", {D});
  const float* x = F32Arg(info, 2, k, "x", false, B * D, ShapeText("[B, D]", {B, D})).data;
  double* mean = F64Arg(info, 3, k, "mean", false, D, d_shape).data;
  double* var = F64Arg(info, 4, k, "var", false, D, d_shape).data;
  double* count = F64Arg(info, 5, k, "count", false, 1, "[1]").data;
  if (!(count[0] >= 0 && std::isfinite(count[0]))) {
    ThrowError(info.Env(), "ERR_RANGE", "runningStatsUpdate: count must be finite and >= 0; received " + std::to_string(count[0]));
  }
  CheckNoOverlap(info.Env(), k, "mean", mean, D * 8, "var", var, D * 8);
  std::vector<double> bm(D, 0.0), bv(D, 0.0);
  for (size_t b = 0; b < B; ++b)
    for (size_t d = 0; d < D; ++d) bm[d] += x[b * D + d];
  for (size_t d = 0; d < D; ++d) bm[d] /= static_cast<double>(B);
  for (size_t b = 0; b < B; ++b)
    for (size_t d = 0; d < D; ++d) {
      const double e = x[b * D + d] - bm[d];
      bv[d] += e * e;
    }
  const double n = count[0], nb = static_cast<double>(B), tot = n + nb;
  for (size_t d = 0; d < D; ++d) {
    const double delta = bm[d] - mean[d];
    const double m2 = var[d] * n + bv[d] + delta * delta * n * nb / tot;
    mean[d] += delta * nb / tot;
    var[d] = m2 / tot;
  }
  count[0] = tot;
  return info.Env().Undefined();
}

Napi::Value Normalize(const Napi::CallbackInfo& info) {
  const char* k = "runningStatsNormalize";
  const size_t B = SizeArg(info, 0, k, "B"), D = SizeArg(info, 1, k, "D");
  if (B * D > (size_t{1} << 34)) ThrowError(info.Env(), "ERR_SHAPE", "runningStatsNormalize: B * D is too large");
  const std::string d_shape = ShapeText("[D]", {D}), bd_shape = ShapeText("[B, D]", {B, D});
  const float* x = F32Arg(info, 2, k, "x", false, B * D, bd_shape).data;
  const double* mean = F64Arg(info, 3, k, "mean", false, D, d_shape).data;
  const double* var = F64Arg(info, 4, k, "var", false, D, d_shape).data;
  const double eps = NumberArg(info, 5, k, "epsilon", 0, 1e300);
  const double clip = NumberArg(info, 6, k, "clip", 0, INFINITY);
  float* out = F32Arg(info, 7, k, "out", false, B * D, bd_shape).data;
  // out may be x exactly (in place), but not a shifted view of it.
  if (out != x) CheckNoOverlap(info.Env(), k, "out", out, B * D * 4, "x", x, B * D * 4);
  std::vector<double> scale(D);
  for (size_t d = 0; d < D; ++d) {
    scale[d] = 1.0 / std::sqrt(var[d] + eps);
    if (!std::isfinite(scale[d]) || !std::isfinite(mean[d]) || var[d] < 0) {
      ThrowError(info.Env(), "ERR_RANGE", std::string(k) + ": mean and var must be finite, var + epsilon > 0 (index " + std::to_string(d) + ")");
    }
  }
  const float lo = static_cast<float>(-clip), hi = static_cast<float>(clip);
  for (size_t b = 0; b < B; ++b) {
    const float* xr = x + b * D;
    float* orow = out + b * D;
    for (size_t d = 0; d < D; ++d) {
      const float v = static_cast<float>((xr[d] - mean[d]) * scale[d]);
      orow[d] = std::min(std::max(v, lo), hi);
    }
  }
  return info.Env().Undefined();
}

}  // namespace

RLCORE_EXPORT(runningStatsUpdate, Update);
RLCORE_EXPORT(runningStatsNormalize, Normalize);

}  // namespace envs
}  // namespace rlcore
