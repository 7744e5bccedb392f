// Branch-free float32 exp / log / tanh pieces that the compiler vectorises (libm calls do not
// vectorise without -ffast-math). Polynomials from Cephes (S. Moshier); relative error ~1e-7,
// i.e. float32 accuracy, for the ranges the kernels use. Plus fixed-lane float64 sums: a plain
// `s += x[i]` loop cannot be vectorised without reassociation, a lane array can, and its order
// depends only on n (deterministic).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rlcore {

/// The pieces of e^x for float32 (inputs clamped to [−87.3, 88]): e^x = (P(r) r² + r + 1) · scale
/// with x = n ln 2 + r, |r| <= ½ ln 2, scale = 2^n and P Cephes' polynomial.
struct ExpPieces {
  float n, r, p, scale;
};
/// The clamp of ExpSplitF: ClampExpArgF(x) then ExpSplitInRangeF equals ExpSplitF(x).
inline float ClampExpArgF(float x) {
  x = x < -87.33654f ? -87.33654f : x;
  return x > 88.0f ? 88.0f : x;
}

/// ExpSplitF for x already in [−87.3, 88]. Kernels whose loop also holds other selects clamp in a
/// loop of their own and call this: with the clamps in the same loop as the polynomial GCC
/// specialises the clamped lanes (masked copies of the polynomial, spills), ~1.5x the instructions.
inline ExpPieces ExpSplitInRangeF(float x) {
  // Round to nearest with the 1.5·2^23 trick (floorf blocks vectorisation without -ffast-math).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return {n, r, p, scale};
}

inline ExpPieces ExpSplitF(float x) { return ExpSplitInRangeF(ClampExpArgF(x)); }

/// e^x for float32; inputs are clamped to [−87.3, 88] (results 2^−126 .. 1.6e38).
inline float ExpF(float x) {
  const ExpPieces e = ExpSplitF(x);
  return (e.p * e.r * e.r + e.r + 1.0f) * e.scale;
}

/// Natural log for positive, normal, finite float32 x.
inline float LogF(float x) {
  int32_t i;
  std::memcpy(&i, &x, sizeof i);
  const float e0 = static_cast<float>(((i >> 23) & 0xff) - 126);
  i = (i & 0x807fffff) | 0x3f000000;  // mantissa in [0.5, 1)
  float m;
  std::memcpy(&m, &i, sizeof m);
  // m < √½: use 2m and one less in the exponent (arithmetic select: keeps the loop branch-free).
  const float small = m < 0.707106781186547524f ? 1.0f : 0.0f;
  const float fe = e0 - small;
  m = m + small * m - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += -2.12194440e-4f * fe;
  y += -0.5f * z;
  return m + y + 0.693359375f * fe;
}

/// √x for finite x ≥ 0 (0 at 0): bit-trick 1/√x and two Newton steps, branch-free (sqrtf keeps
/// an errno branch without -fno-math-errno, which blocks vectorisation).
inline float SqrtF(float x) {
  int32_t i;
  std::memcpy(&i, &x, sizeof i);
  i = 0x5f375a86 - (i >> 1);
  float y;
  std::memcpy(&y, &i, sizeof y);
  y = y * (1.5f - 0.5f * x * y * y);
  y = y * (1.5f - 0.5f * x * y * y);
  y = y * (1.5f - 0.5f * x * y * y);
  return x > 0.f ? x * y : 0.f;
}

/// tanh(u) and sech²(u) from q = e^{−2|u|} ∈ (0, 1] (computed by the caller with ExpF, in its
/// own loop: GCC if-converts ExpF and LogF alone but not fused with more selects):
/// tanh u = sign(u) (1 − q)/(1 + q), sech² u = 4q/(1 + q)². softplus(−2u) = (|u| − u) + log(1 + q).
struct TanhParts {
  float tanh, sech2;
};
inline TanhParts TanhFromQ(float u, float q) {
  const float au = __builtin_fabsf(u);
  const float inv = 1.0f / (1.0f + q);
  // Near 0, (1 − q)/(1 + q) cancels; Cephes' odd polynomial is accurate for |u| < 0.625.
  const float z = u * u;
  const float poly =
      ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
       3.33332819422e-1f) * z * u + u;
  const float far = __builtin_copysignf((1.0f - q) * inv, u);
  TanhParts out;
  out.tanh = au < 0.625f ? poly : far;
  out.sech2 = 4.0f * q * inv * inv;
  return out;
}

/// Σ x[0..n) in float64, vectorisable, in an order fixed by n.
template <class T>
inline double SumF64(const T* x, size_t n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t l = 0; l < 8; ++l) lane[l] += static_cast<double>(x[i + l]);
  double s = 0.0;
  for (; i < n; ++i) s += static_cast<double>(x[i]);
  for (size_t l = 0; l < 8; ++l) s += lane[l];
  return s;
}

/// max of x[0..n) (n ≥ 1) with 16 lanes (vectorisable; max is exact, so the order is irrelevant).
inline float MaxF(const float* x, size_t n) {
  float mx = x[0];
  if (n < 32) {
    for (size_t i = 1; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
    return mx;
  }
  float lane[16];
  for (size_t l = 0; l < 16; ++l) lane[l] = x[0];
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (size_t l = 0; l < 16; ++l) lane[l] = x[i + l] > lane[l] ? x[i + l] : lane[l];
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  for (size_t l = 0; l < 16; ++l) mx = lane[l] > mx ? lane[l] : mx;
  return mx;
}

}  // namespace rlcore
