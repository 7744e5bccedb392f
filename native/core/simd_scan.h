// AVX-512 building blocks for the row loops of the scan kernels (scan.h): 16 columns of one
// row at a time, float32 inputs, float64 scan state, float32 outputs.
//
// Why by hand: GCC's vectoriser turns the mixed uint8/float32/float64 row loops into long
// shuffle sequences with runtime alias checks (measured ~2x slower in cache than these blocks),
// and it never emits streaming stores. Out of cache, streaming (non-temporal) stores skip the
// read-for-ownership of the output lines, which is most of the gap to copy bandwidth.
//
// Compiled only where the target has AVX-512 F/BW/DQ/VL (the default -march=native build on such
// a machine); elsewhere RLCORE_SCAN_SIMD is 0 and the kernels use their portable loops, which
// the sanitizer build (RLCORE_PORTABLE=1) keeps under test.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#define RLCORE_SCAN_SIMD 1
// GCC 12 reports the _mm512_undefined_* operands inside its own intrinsics as "(maybe) used
// uninitialized" once they are inlined (GCC bug 105593). The warning is attributed to lines of
// the intrinsic headers, so ignoring it around their inclusion silences it for every kernel and
// nowhere else.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#define RLCORE_SCAN_SIMD 0
#endif

namespace rlcore::simd {

/// Outputs of at least this many elements are written with streaming stores (they would not
/// stay in cache anyway: 4 MiB of float32 per output array).
constexpr size_t kStreamElements = size_t{1} << 20;

#if RLCORE_SCAN_SIMD
constexpr size_t kLanes = 16;

/// Lanes whose flag byte is nonzero (flags: 16 bytes).
inline __mmask16 Set16(const uint8_t* flags) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(flags));
  return _mm_test_epi8_mask(x, x);
}

inline __m512d LowHalf(__m512 x) { return _mm512_cvtps_pd(_mm512_castps512_ps256(x)); }
inline __m512d HighHalf(__m512 x) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
}
inline __m512 Narrow(__m512d lo, __m512d hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

/// 16 columns [n, n + 16) of a StepParam (step_param.h) at step t.
template <class Param>
inline __m512 Param16(const Param& q, size_t t, size_t n) {
  if (!q.values) return _mm512_set1_ps(q.scalar);
  if (q.stride_n == 1) return _mm512_loadu_ps(q.values + t * q.stride_t + n);
  return _mm512_set1_ps(q.values[t * q.stride_t]);
}

/// The coefficients of y[t] = a + c * y[t + 1] for 16 columns, in float64 halves (columns
/// n..n+8 and n+8..n+16). Kernels whose writes need more derive from it. Lanes with c == 0 get
/// y[t] = a (ScanRows16; see scan.h).
struct Coefs16 {
  __m512d a_lo, a_hi, c_lo, c_hi;
  static Coefs16 Of(__m512 a, __m512 c) { return {LowHalf(a), HighHalf(a), LowHalf(c), HighHalf(c)}; }
  /// c = `c` (a float32 value held in float64) in the `live` lanes, else 0: the same values as
  /// Of(a, _mm512_maskz_mov_ps(live, c)) without widening c at every step (the usual scalar
  /// γ, λ: a constant, masked at episode ends).
  static Coefs16 Masked(__m512 a, __mmask16 live, __m512d c) {
    return {LowHalf(a), HighHalf(a), _mm512_maskz_mov_pd(static_cast<__mmask8>(live), c),
            _mm512_maskz_mov_pd(static_cast<__mmask8>(live >> 8), c)};
  }
};

/// Stores 16 floats; with `stream`, as streaming stores of the widest size the address allows
/// (large typed arrays from V8 start 16 bytes past a page boundary, so rows are often only
/// 16-byte aligned; write-combining merges the pieces of each line). Call Fence() after a loop
/// that may stream, before the data is handed to another thread.
inline void Store16(float* p, __m512 x, bool stream) {
  const uintptr_t misalign = reinterpret_cast<uintptr_t>(p) & 63;
  if (!stream || (misalign & 15) != 0) {
    _mm512_storeu_ps(p, x);
  } else if (misalign == 0) {
    _mm512_stream_ps(p, x);
  } else if ((misalign & 31) == 0) {
    _mm256_stream_ps(p, _mm512_castps512_ps256(x));
    _mm256_stream_ps(p + 8, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
  } else {
    _mm_stream_ps(p, _mm512_castps512_ps128(x));
    _mm_stream_ps(p + 4, _mm512_extractf32x4_ps(x, 1));
    _mm_stream_ps(p + 8, _mm512_extractf32x4_ps(x, 2));
    _mm_stream_ps(p + 12, _mm512_extractf32x4_ps(x, 3));
  }
}
inline void Fence(bool stream) {
  if (stream) _mm_sfence();
}

// ---- One column stored contiguously (N = 1): 8 consecutive steps per float64 vector ----

/// Lanes whose flag byte is nonzero (flags: 8 bytes).
inline __mmask8 Set8(const uint8_t* flags) {
  const __m128i x = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(flags));
  return static_cast<__mmask8>(_mm_test_epi8_mask(x, x));
}

/// Steps [t, t + 8) of a StepParam of a one-column batch (its per-step values are contiguous).
template <class Param>
inline __m256 Param8(const Param& q, size_t t) {
  if (!q.values) return _mm256_set1_ps(q.scalar);
  return _mm256_loadu_ps(q.values + t * q.stride_t);
}

/// The coefficients of y[t] = a + c * y[t + 1] for 8 consecutive steps of one column. Kernels
/// whose writes need more derive from it.
struct Coefs8 {
  __m512d a, c;
};

/// Whether every lane of x is finite.
inline bool AllFinite(__m512d x) { return _mm512_fpclass_pd_mask(x, 0x99) == 0; }  // 0x99: NaN, ±Inf

// Episode ends (c == 0) in the scans below: y = a, never a + 0 · y' (see scan.h), which a masked
// ("gated") fma does. The plain fma gives the same values (a zero's sign aside) wherever y' is
// finite, since a + 0 · y' = a; and a NaN or Inf, once in the plain scan, stays non-finite up to
// its end (a + c · y' with c >= 0 finite, and a block's y_0 composes all of its steps). So the
// in-register scans run plain and redo gated only a run of steps whose final state is not finite
// (NaN or Inf data, or an overflow): the gates cost nothing on finite data. Coefs8/Coefs16 must
// therefore not read what Write8/Write16 write.

/// Reverse scan of 8 consecutive steps in registers (lane i = step t + i): y_i = a_i + c_i y_{i+1}
/// with y_8 = carry (all lanes); carry receives y_0 in all lanes. The affine maps compose by
/// doubling (Hillis & Steele 1986; Blelloch 1990 for first-order recurrences):
/// (a_i, c_i) ∘ (a_{i+k}, c_{i+k}) = (a_i + c_i a_{i+k}, c_i c_{i+k}) for k = 1, 2, 4;
/// kGated: a lane whose steps so far hold a c == 0 (`cut`) keeps a_i instead.
template <bool kGated>
inline __m512d ReverseScan8(__m512d a, __m512d c, __m512d& carry) {
  // Lane i <- lane i + k, the top k lanes filled from `fill` (0 for a, 1 for c): valignq.
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_castpd_si512(_mm512_set1_pd(1.0));
  auto up = [](__m512d x, __m512i fill, auto k) {
    return _mm512_castsi512_pd(_mm512_alignr_epi64(fill, _mm512_castpd_si512(x), decltype(k)::value));
  };
  // Lane i: a c == 0 among steps [i, i + k) (the lanes past the top are the identity, no cut).
  unsigned cut = kGated ? _mm512_cmp_pd_mask(c, _mm512_setzero_pd(), _CMP_EQ_OQ) : 0;
  auto step = [&](auto k) {
    a = _mm512_mask3_fmadd_pd(c, up(a, zero, k), a, static_cast<__mmask8>(~cut));
    c = _mm512_mul_pd(c, up(c, one, k));
    cut |= cut >> decltype(k)::value;
  };
  step(std::integral_constant<int, 1>{});
  step(std::integral_constant<int, 2>{});
  step(std::integral_constant<int, 4>{});
  const __m512d y = _mm512_mask3_fmadd_pd(c, carry, a, static_cast<__mmask8>(~cut));
  carry = _mm512_broadcastsd_pd(_mm512_castpd512_pd128(y));
  return y;
}

/// Stores 8 floats; streaming when asked and the address is 16-byte aligned (as Store16: large
/// V8 arrays often start 16 bytes past a 32-byte boundary).
inline void Store8(float* p, __m256 x, bool stream) {
  const uintptr_t misalign = reinterpret_cast<uintptr_t>(p) & 31;
  if (!stream || (misalign & 15) != 0) {
    _mm256_storeu_ps(p, x);
  } else if (misalign == 0) {
    _mm256_stream_ps(p, x);
  } else {
    _mm_stream_ps(p, _mm256_castps256_ps128(x));
    _mm_stream_ps(p + 4, _mm256_extractf128_ps(x, 1));
  }
}

/// The scan of a one-column batch for kernels that provide
///   Q Coefs8(size_t t) const;  // Q: Coefs8 or derived; a, c of steps [t, t + 8)
///   void Write8(size_t t, const Q& q, __m512d y, __m256 y_next, bool stream) const;
/// with y = y[t .. t+8) in float64 and y_next = y[t+1 .. t+9) rounded to float32 (writes that
/// bootstrap from the next step's result, as V-trace's policy-gradient advantages, read y_next;
/// others ignore it, and the compiler drops it).
/// Scans steps [t_lo, t_hi) down from t_hi in blocks of 8 with *s = y[t_hi]; returns t such that
/// steps [t_lo, t) are left (fewer than 8) and *s = y[t].
template <class K>
size_t ScanColumn8(const K& kernel, size_t t_lo, size_t t_hi, double* s, bool stream) {
  const K k = kernel;  // see ScanRows16
  // Lane i <- y lane i+1; lane 7 <- y[t+8] (lane 0 of the previous block), in float32: the
  // rounding commutes with the lane shift, and 256-bit shuffles are the cheaper ones.
  const __m256i shift = _mm256_set_epi32(8, 7, 6, 5, 4, 3, 2, 1);
  __m512d carry = _mm512_set1_pd(*s);
  __m256 after = _mm256_set1_ps(static_cast<float>(*s));
  size_t t = t_hi;
  constexpr size_t kRun = 512;  // steps run plain before the state is checked (see ReverseScan8)
  while (t >= t_lo + 8) {
    const size_t hi = t, lo = hi - std::min(kRun, (hi - t_lo) / 8 * 8);
    const __m512d carry_hi = carry;
    const __m256 after_hi = after;
    auto run = [&](auto gated) {
      carry = carry_hi;
      after = after_hi;
      for (t = hi; t > lo;) {
        t -= 8;
        const auto q = k.Coefs8(t);
        const __m512d y = ReverseScan8<decltype(gated)::value>(q.a, q.c, carry);
        const __m256 y32 = _mm512_cvtpd_ps(y);
        k.Write8(t, q, y, _mm256_permutex2var_ps(y32, shift, after), stream);
        after = y32;
      }
    };
    run(std::false_type{});
    if (__builtin_expect(!AllFinite(carry), 0)) run(std::true_type{});  // rewrites the run's outputs
  }
  *s = _mm512_cvtsd_f64(carry);
  Fence(stream);
  return t;
}

/// A one-column scan (steps [0, T), T >= 16, *y = y[T] = k.Boundary(0)) with a lean kernel for
/// the interior: `k` (Coefs8/Write8 and Column<true>, see ScanColumn8) scans the block holding
/// the batch end (steps [T - 8, T)) and the first T mod 8 steps; `interior(run)` calls
/// run(lean) with a kernel whose Coefs8/Write8 need only hold for steps t + 8 < T (no per-block
/// checks of the batch end or of optional inputs: the caller picks the specialisation). The
/// blocks are those of ScanColumn8 over [0, T), so the results are bit for bit those of k alone
/// when lean does the same arithmetic.
template <class K, class Interior>
void ScanOneColumn(const K& k, size_t T, bool stream, Interior interior) {
  double y = k.Boundary(0);
  ScanColumn8(k, T - 8, T, &y, stream);
  size_t rest = 0;
  interior([&](const auto& lean) { rest = ScanColumn8(lean, 0, T - 8, &y, stream); });
  if (rest > 0) k.template Column<true>(0, 0, rest, &y, nullptr);
}

// ---- Software prefetch of the next row (streaming row order) ----
//
// Out of cache, the row-order loop below reads each input row by row, stepping back N floats per
// step: the hardware prefetchers follow the ascending run within a row but not the jump to the
// previous row, so every row starts with demand misses in every input (measured: 45-55% of copy
// bandwidth for gae at T=2048, N=4096 without these hints, 75-90% with them). A kernel may provide
//   void Prefetch16(size_t t, size_t n) const;  // hint: columns [n, n + 16) of step t are read soon
// calling the helpers below for each input array it reads.

/// Prefetches the line holding the last of 16 floats at p (called for consecutive 16-float
/// chunks in ascending order, this touches each line once).
inline void Prefetch16F(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p + 15), _MM_HINT_T0); }
/// Prefetches the line holding the last of 16 flag bytes at p when that byte starts a new line.
inline void Prefetch16B(const uint8_t* p) {
  if ((reinterpret_cast<uintptr_t>(p + 15) & 63) < 16) _mm_prefetch(reinterpret_cast<const char*>(p + 15), _MM_HINT_T0);
}
/// Prefetches columns [n, n + 16) of step t of a StepParam held per column (others are scalars
/// or one value per step, already in cache).
template <class Param>
inline void PrefetchParam16(const Param& q, size_t t, size_t n) {
  if (q.values && q.stride_n == 1) Prefetch16F(q.values + t * q.stride_t + n);
}

/// Prefetch16 of the bootstrapped estimators (gae, lambdaReturns, vtrace): the inputs their
/// Coefs16 reads at columns [n, n + 16) of step t, for a problem with those fields.
template <class Problem>
inline void PrefetchBootstrap16(const Problem& p, size_t t, size_t n) {
  const size_t i = t * p.N + n;
  Prefetch16F(p.rewards + i);
  Prefetch16F(p.values + i);
  if (p.next_values) Prefetch16F(p.next_values + i);
  if (p.terminated) Prefetch16B(p.terminated + i);
  if (p.truncated) Prefetch16B(p.truncated + i);
  PrefetchParam16(p.gamma, t, n);
  PrefetchParam16(p.lambda, t, n);
}

template <class K, class = void>
struct HasPrefetch16 : std::false_type {};
template <class K>
struct HasPrefetch16<K, std::void_t<decltype(&K::Prefetch16)>> : std::true_type {};

/// One step of 8 columns: y = a + c s; kGated: y = a where c == 0 (no 0 · s, see scan.h and
/// ReverseScan8).
template <bool kGated>
inline __m512d ScanStep8(__m512d a, __m512d c, __m512d s) {
  if constexpr (kGated) return _mm512_mask3_fmadd_pd(c, s, a, _mm512_cmp_pd_mask(c, _mm512_setzero_pd(), _CMP_NEQ_UQ));
  return _mm512_fmadd_pd(c, s, a);
}

/// Columns [n, n + 16) of the kernel k (see ScanRows16) over steps [t_lo, t_hi), the state
/// (lo, hi: y[t_hi] in, y[t_lo] out) in registers.
template <bool kGated, class K>
inline void ScanStrip16(const K& k, size_t t_lo, size_t t_hi, size_t n, __m512d& lo, __m512d& hi) {
  __m512 y_next = Narrow(lo, hi);
  for (size_t t = t_hi; t-- > t_lo;) {
    const auto q = k.Coefs16(t, n);
    lo = ScanStep8<kGated>(q.a_lo, q.c_lo, lo);
    hi = ScanStep8<kGated>(q.a_hi, q.c_hi, hi);
    const __m512 y = Narrow(lo, hi);
    k.Write16(t, n, q, y, y_next, false);
    y_next = y;
  }
}

/// Scan rectangles of at most this many elements that are not streamed run strip by strip
/// (16 columns over all their steps, the state in registers): in cache, this beats row order.
constexpr size_t kStripElements = size_t{1} << 16;

/// The 16-column part of Rows<true> for kernels (held by value: the problem, not a reference to
/// it, see below) that provide
///   Q Coefs16(size_t t, size_t n) const;  // Q: Coefs16 or derived; columns [n, n + 16) at step t
///   void Write16(size_t t, size_t n, const Q& q, __m512 y, __m512 y_next, bool stream) const;
/// with y = y[t] and y_next = y[t + 1] rounded to float32 (y_next is s0 at t = t_hi - 1; writes
/// that do not bootstrap from the next step ignore it, and the compiler drops it). Scans the
/// leading multiple of 16 of columns [n0, n1) over steps [t_lo, t_hi) and returns how many
/// columns it did; s0 holds y[t_hi] of each column and receives y[t_lo].
template <class K>
size_t ScanRows16(const K& kernel, size_t t_lo, size_t t_hi, size_t n0, size_t n1, double* s0, bool stream) {
  // A local copy: the intrinsics' stores may alias anything, so fields read through a reference
  // would be reloaded at every block; a copy whose address never escapes stays in registers.
  const K k = kernel;
  const size_t w16 = (n1 - n0) / kLanes * kLanes;
  if (!stream && (t_hi - t_lo) * w16 <= kStripElements) {
    for (size_t j = 0; j < w16; j += kLanes) {
      __m512d lo = _mm512_loadu_pd(s0 + j), hi = _mm512_loadu_pd(s0 + j + 8);
      const __m512d lo_end = lo, hi_end = hi;
      ScanStrip16<false>(k, t_lo, t_hi, n0 + j, lo, hi);
      // The strip met NaN or Inf (it ends non-finite then: see ReverseScan8): gated, rewriting
      // every output of the strip.
      if (__builtin_expect(!AllFinite(lo) || !AllFinite(hi), 0)) {
        lo = lo_end, hi = hi_end;
        ScanStrip16<true>(k, t_lo, t_hi, n0 + j, lo, hi);
      }
      _mm512_storeu_pd(s0 + j, lo);
      _mm512_storeu_pd(s0 + j + 8, hi);
    }
    return w16;
  }
  for (size_t t = t_hi; t-- > t_lo;) {
    const bool ahead = t > t_lo;  // a previous row to prefetch
    for (size_t j = 0; j < w16; j += kLanes) {
      if constexpr (HasPrefetch16<K>::value) {
        if (ahead) k.Prefetch16(t - 1, n0 + j);
      }
      const auto q = k.Coefs16(t, n0 + j);
      const __m512d s_lo = _mm512_loadu_pd(s0 + j), s_hi = _mm512_loadu_pd(s0 + j + 8);
      const __m512d lo = ScanStep8<true>(q.a_lo, q.c_lo, s_lo);  // out of cache: gated, at no cost
      const __m512d hi = ScanStep8<true>(q.a_hi, q.c_hi, s_hi);
      _mm512_storeu_pd(s0 + j, lo);
      _mm512_storeu_pd(s0 + j + 8, hi);
      k.Write16(t, n0 + j, q, Narrow(lo, hi), Narrow(s_lo, s_hi), stream);
    }
  }
  Fence(stream);
  return w16;
}
#endif

#if RLCORE_SCAN_SIMD
// ---- float32 exp ----

/// Cephes' e^x polynomial P(r) on 16 lanes (e^r = P(r) r² + r + 1 for |r| <= ½ ln 2), the
/// operations of ExpSplitInRangeF (native/dist/fastmath.h) with fused multiply-adds.
inline __m512 ExpPoly16(__m512 r) {
  __m512 q = _mm512_set1_ps(1.9875691500e-4f);
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.3981999507e-3f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(8.3334519073e-3f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(4.1665795894e-2f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.6666665459e-1f));
  return _mm512_fmadd_ps(q, r, _mm512_set1_ps(5.0000001201e-1f));
}

// ---- Reverse scans with a constant coefficient, 16 steps per vector step (tokenGae, and
// discountedReturns on one column). A block of 16 steps [b, b + 16) with y_t = a_t + c y_{t+1} is
//   y_{b+i} = x_i + c^{16-i} y_{b+16},   x_i = Σ_{k<16-i} c^k a_{b+i+k},
// the block sums x from four shifted fmas in float32 (Hillis & Steele 1986 doubling), the value
// carried from block to block in float64 (one scalar fma per block): only sums of at most 16
// terms are float32, however long the sequence. For c != 0: with c == 0 the scan must give
// y_t = a_t, not a_t + 0 · y_{t+1} (scan.h), so callers take another path (or gate, as
// discountedReturns does at its episode ends).

/// The powers of c a 16-step block scan needs (formed in float64, then rounded).
struct BlockPowers16 {
  __m512 c1, c2, c4, c8;  // c, c^2, c^4, c^8 in every lane
  __m512 tail;            // lane i: c^(16-i)
  __m128d c16;            // c^16, float64
  explicit BlockPowers16(double c) {
    double power[17];
    power[0] = 1.0;
    for (size_t i = 1; i <= 16; ++i) power[i] = power[i - 1] * c;
    alignas(64) float tail_lanes[16];
    for (size_t i = 0; i < 16; ++i) tail_lanes[i] = static_cast<float>(power[16 - i]);
    c1 = _mm512_set1_ps(static_cast<float>(power[1]));
    c2 = _mm512_set1_ps(static_cast<float>(power[2]));
    c4 = _mm512_set1_ps(static_cast<float>(power[4]));
    c8 = _mm512_set1_ps(static_cast<float>(power[8]));
    tail = _mm512_load_ps(tail_lanes);
    c16 = _mm_set_sd(power[16]);
  }
};

/// Lane i of the result: x_{i+s}, or 0 past the last lane.
template <int s>
inline __m512 ShiftDown(__m512 x) {
  return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_setzero_si512(), _mm512_castps_si512(x), s));
}

/// x_i = Σ_{k<16-i} c^k a_{i+k} of one block of 16.
inline __m512 BlockSums16(__m512 x, const BlockPowers16& k) {
  x = _mm512_fmadd_ps(k.c1, ShiftDown<1>(x), x);
  x = _mm512_fmadd_ps(k.c2, ShiftDown<2>(x), x);
  x = _mm512_fmadd_ps(k.c4, ShiftDown<4>(x), x);
  return _mm512_fmadd_ps(k.c8, ShiftDown<8>(x), x);
}

/// The float64 carry (lane 0) broadcast as float32, for y = x + tail · carry.
inline __m512 CarryLanes16(__m128d carry) { return _mm512_broadcastss_ps(_mm_cvtsd_ss(_mm_setzero_ps(), carry)); }

/// y_b = x_0 + c^16 y_{b+16}: the carry into the next block down.
inline __m128d NextCarry16(const BlockPowers16& k, __m128d carry, __m512 x) {
  return _mm_fmadd_sd(k.c16, carry, _mm_cvtss_sd(_mm_setzero_pd(), _mm512_castps512_ps128(x)));
}

#endif

}  // namespace rlcore::simd
