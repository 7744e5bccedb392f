// x^y = exp(y ln x) for arrays, in float64, as loops the compiler vectorises (a libm pow call per
// element costs more than a whole tree descent). Relative error ~1e-15 for the |y ln x| <= 700
// the replay buffer sees; anything else (x not positive and normal, huge results) falls back to
// std::pow, so the function is total. Exact where it matters: x = 1 or y = 0 give exactly 1.
//   ln x = e ln 2 + 2 atanh(s),  s = (m − 1)/(m + 1),  x = m 2^e, m in [√½, √2)
//   e^t  = 2^n e^r,  n = round(t / ln 2),  |r| <= ln 2 / 2   (Taylor series to r^13)
// Both series are fixed-length Horner sums, so results depend only on the inputs.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rlcore::replay {

namespace fast_pow_detail {

constexpr double kLn2Hi = 0.693147180369123816490;  // ln 2 split so that e * kLn2Hi is exact
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52: (x + kRound) - kRound rounds to nearest
constexpr double kMaxT = 700.0;

/// ln x for positive, normal, finite x (other inputs give garbage, not UB).
inline double LogNormal(double x) {
  int64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int64_t e = ((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL;  // m in [1, 2)
  double m;
  std::memcpy(&m, &bits, sizeof m);
  const bool big = m > 1.4142135623730950488;
  m = big ? 0.5 * m : m;
  e = big ? e + 1 : e;
  const double s = (m - 1.0) / (m + 1.0), z = s * s;
  // 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...); |s| <= 0.172, so 12 terms reach 1e-17.
  double p = 1.0 / 25;
  p = p * z + 1.0 / 23;
  p = p * z + 1.0 / 21;
  p = p * z + 1.0 / 19;
  p = p * z + 1.0 / 17;
  p = p * z + 1.0 / 15;
  p = p * z + 1.0 / 13;
  p = p * z + 1.0 / 11;
  p = p * z + 1.0 / 9;
  p = p * z + 1.0 / 7;
  p = p * z + 1.0 / 5;
  p = p * z + 1.0 / 3;
  const double fe = static_cast<double>(e);
  return fe * kLn2Hi + (fe * kLn2Lo + (2.0 * s + 2.0 * s * z * p));
}

/// e^t for |t| <= kMaxT (t is clamped there).
inline double ExpClamped(double t) {
  t = t > -kMaxT ? t : -kMaxT;  // also maps NaN to -kMaxT (the caller falls back)
  t = t < kMaxT ? t : kMaxT;
  const double n = (t * 1.44269504088896340736 + kRound) - kRound;
  const double r = (t - n * kLn2Hi) - n * kLn2Lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r * r + r + 1.0;
  const int64_t bits = (static_cast<int64_t>(n) + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// Bitwise & (not &&): no branches, so the loops using it vectorise.
inline bool InRange(double x, double t) {
  return static_cast<bool>((x >= DBL_MIN) & (x <= DBL_MAX) & (t >= -kMaxT) & (t <= kMaxT));
}

}  // namespace fast_pow_detail

/// out[i] = x[i]^y for i < n (x[i] >= 0; out must not alias x).
inline void PowMany(const double* x, double y, size_t n, double* out) {
  using namespace fast_pow_detail;
  constexpr size_t kChunk = 64;
  double t[kChunk];
  for (size_t c0 = 0; c0 < n; c0 += kChunk) {
    const size_t m = n - c0 < kChunk ? n - c0 : kChunk;
    for (size_t i = 0; i < m; ++i) t[i] = y * LogNormal(x[c0 + i]);
    for (size_t i = 0; i < m; ++i) out[c0 + i] = ExpClamped(t[i]);
    int rare = 0;
    for (size_t i = 0; i < m; ++i) rare |= InRange(x[c0 + i], t[i]) ? 0 : 1;
    if (!rare) continue;
    // Zero, subnormal or non-finite x, or a result near under/overflow: the exact libm value.
    for (size_t i = 0; i < m; ++i) {
      if (!InRange(x[c0 + i], t[i])) out[c0 + i] = std::pow(x[c0 + i], y);
    }
  }
}

/// x^y for one x (the same function as PowMany).
inline double Pow(double x, double y) {
  double r;
  PowMany(&x, y, 1, &r);
  return r;
}

}  // namespace rlcore::replay
