// GAE (Schulman et al. 2016, arXiv:1506.02438) over a batch of token sequences, as used for PPO
// on language models: every sequence ends (no bootstrap after its last token), and a sequence-level
// reward (a reward model's score) is usually added at the last token:
//
//   δ_t = r_t + [t = last] R + γ V_{t+1} - V_t,   V after the last token = 0
//   A_t = δ_t + γ λ A_{t+1},   A after the last token = 0
//   G_t = A_t + V_t
//
// With the padded layout and a mask, masked-out tokens are skipped: "t+1" is the next valid
// token of the row (as in verl's compute_gae_advantage_return), and masked-out tokens get
// A = G = 0. Each sequence is one column of the reverse affine scan of native/core/scan.h.
#include "token_gae.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/binding.h"
#include "../core/scan.h"
#include "../core/simd_scan.h"
#include "../../cuda/backend.h"

namespace rlcore {
namespace {

// Sequences at least this long are split over the pool; the others are scanned whole, one
// per task, in parallel.
constexpr size_t kLongSequence = 1 << 15;
// Batches of at least this many tokens (and more than one sequence) use the pool; below it
// (a few tens of µs of work) waking the pool costs more than it saves, as for the other scans
// (ReverseScan in scan.h: 2^16 elements). At B = 64, T = 128 on the shared 2-core machine the
// pool made calls ~10x slower than one thread.
constexpr size_t kParallelTokens = 1 << 16;

// Per-token operations: Coef gives a_i and c_i of y_i = a_i + c_i y_{i+1}; Put writes y_i.

// Every token valid: a_i = r_i + γ V_{i+1} - V_i (+ R at the last token, where V_{i+1} = 0),
// c_i = γ λ.
struct PlainOp {
  const float* r;  // or null
  const float* v;
  float* adv;
  float* ret;  // or null
  size_t len;
  double R, g, gl;
  void Coef(size_t i, double* a, double* c) const {
    const double next = i + 1 < len ? g * v[i + 1] : R;
    *a = (r ? static_cast<double>(r[i]) : 0.0) + next - v[i];
    *c = gl;
  }
  void Put(size_t i, double y) const {
    adv[i] = static_cast<float>(y);
    if (ret) ret[i] = static_cast<float>(y + v[i]);
  }
};

// A masked row, pass 1: U_i = R at the last valid token, else γ V of the next valid token:
//   U_i = m_{i+1} γ V_{i+1} + (1 - m_{i+1}) U_{i+1},   U_{L-1} = R.
// It is written into adv (a scratch use: pass 2 overwrites every element).
struct NextValueOp {
  const float* v;
  const uint8_t* m;
  float* adv;
  size_t len;
  double R, g;
  void Coef(size_t i, double* a, double* c) const {
    const bool last = i + 1 == len;
    const bool on = !last && m[i + 1] != 0;
    *a = last ? R : on ? g * v[i + 1] : 0.0;
    *c = (last || on) ? 0.0 : 1.0;
  }
  void Put(size_t i, double y) const { adv[i] = static_cast<float>(y); }
};

// A masked row, pass 2: a_i = m_i (r_i + U_i - V_i), c_i = m_i ? γ λ : 1 (masked tokens pass
// A of the next valid token through). U_i is read from adv[i] before Put replaces it; every
// token is read and written by the same thread, and a read-only pass never overlaps a write.
struct MaskedOp {
  const float* r;  // or null
  const float* v;
  const uint8_t* m;
  float* adv;
  float* ret;  // or null
  double gl;
  void Coef(size_t i, double* a, double* c) const {
    const bool on = m[i] != 0;
    const double ri = r ? static_cast<double>(r[i]) : 0.0;
    *a = on ? ri + adv[i] - v[i] : 0.0;
    *c = on ? gl : 1.0;
  }
  void Put(size_t i, double y) const {
    const bool on = m[i] != 0;
    adv[i] = on ? static_cast<float>(y) : 0.f;
    if (ret) ret[i] = on ? static_cast<float>(y + v[i]) : 0.f;
  }
};

#if RLCORE_SCAN_SIMD
// PlainOp's scan, 16 tokens per step: with c = γλ constant along a sequence, the block scan of
// simd_scan.h (block sums in float32, the value carried along the sequence in float64), on δ
// formed in float32 from the float32 inputs (as in gae's vector path). Returns are A + V in
// float32, as gae's.
// Out of cache (PlainScanStream), the inputs are prefetched this many tokens ahead of the (descending)
// scan, and the outputs are staged in L1 in chunks of kStageTokens and streamed out in ascending
// order: streaming stores issued in descending order, 16 bytes at a time (V8's large arrays start
// 16 bytes past a 32-byte boundary), defeat write-combining and measured slower than plain
// stores (B = 4096, T = 2048: ~30% of copy bandwidth vs ~45% plain, ~60% plain with prefetch).
constexpr size_t kPrefetchTokens = 256;
constexpr size_t kStageTokens = 512;

// Copies n floats (a multiple of 16) from the aligned stage to dst with streaming stores.
void StreamOut(float* dst, const float* stage, size_t n) {
  for (size_t k = 0; k < n; k += 16) simd::Store16(dst + k, _mm512_load_ps(stage + k), true);
}

// The powers of c = γλ every sequence of a call shares (computed once per call).
using ScanPowers = simd::BlockPowers16;

// The last len % 16 tokens of op's sequence, one by one in float64; returns y before them.
inline __m128d PlainHead(const PlainOp& op) {
  double y = 0.0;
  for (size_t i = op.len; i-- > op.len - op.len % 16;) {
    double a, cc;
    op.Coef(i, &a, &cc);
    y = a + cc * y;  // cc = γλ != 0 (BlockScans)
    op.Put(i, y);
  }
  return _mm_set_sd(y);
}

// The part of block [b, b + 16) of op's sequence that does not need the carry: V and the
// block sums x (see above). `last`: the block ends the sequence. kRewards: op.r is set.
struct BlockSumsOf {
  __m512 v, x;
};
template <bool kRewards>
inline BlockSumsOf PlainSums(const PlainOp& op, const ScanPowers& k, size_t b, bool last) {
  const __m512 v = _mm512_loadu_ps(op.v + b);
  // δ = r + γ V_next - V; after the last token of the sequence, V_next = 0 and R is added.
  const __m512 g = _mm512_set1_ps(static_cast<float>(op.g));
  const __m512 v_next = _mm512_maskz_loadu_ps(last ? 0x7fff : 0xffff, op.v + b + 1);
  __m512 d = kRewards ? _mm512_sub_ps(_mm512_fmadd_ps(g, v_next, _mm512_loadu_ps(op.r + b)), v)
                      : _mm512_fmsub_ps(g, v_next, v);
  if (last) d = _mm512_mask_add_ps(d, 0x8000, d, _mm512_set1_ps(static_cast<float>(op.R)));
  return {v, simd::BlockSums16(d, k)};
}

// The rest, given y after the block in `carry` (float64, lane 0), which receives y_b. A goes to
// adv[0, 16) and, when kReturns, G = A + V to ret[0, 16).
template <bool kReturns>
inline void PlainFinish(const ScanPowers& k, const BlockSumsOf& s, __m128d& carry, float* adv, float* ret) {
  const __m512 a16 = _mm512_fmadd_ps(k.tail, simd::CarryLanes16(carry), s.x);
  carry = simd::NextCarry16(k, carry, s.x);
  _mm512_storeu_ps(adv, a16);
  if (kReturns) _mm512_storeu_ps(ret, _mm512_add_ps(a16, s.v));
}

// A whole block (choosing the variant at run time).
inline void PlainBlock(const PlainOp& op, const ScanPowers& k, size_t b, __m128d& carry, float* adv, float* ret) {
  const bool last = b + 16 == op.len;
  const BlockSumsOf s = op.r ? PlainSums<true>(op, k, b, last) : PlainSums<false>(op, k, b, last);
  if (op.ret) PlainFinish<true>(k, s, carry, adv, ret);
  else PlainFinish<false>(k, s, carry, adv, ret);
}

// One sequence in cache: whole blocks from the end, written in place.
void PlainScan16(const PlainOp& op, const ScanPowers& k) {
  __m128d carry = PlainHead(op);
  for (size_t b = op.len - op.len % 16; b > 0;) {
    b -= 16;
    PlainBlock(op, k, b, carry, op.adv + b, op.ret ? op.ret + b : nullptr);
  }
}

// Two sequences in cache, their blocks interleaved from the ends: two independent float64
// carry chains in flight instead of one (a lone sequence's chain and block sums leave the
// vector units idle part of the time), software-pipelined (the next blocks' sums are started
// before this block's carries), with the per-call choices (rewards, returns) compiled in.
template <bool kRewards, bool kReturns>
void PlainScanPair(const PlainOp& p, const PlainOp& q, const ScanPowers& powers) {
  const ScanPowers k = powers;  // a local copy: the stores below cannot alias it
  __m128d carry_p = PlainHead(p), carry_q = PlainHead(q);
  size_t bp = p.len - p.len % 16, bq = q.len - q.len % 16;
  if (bp > 0 && bq > 0) {
    // The first blocks from the end are the sequences' last ones when their lengths are multiples of 16.
    BlockSumsOf sp = PlainSums<kRewards>(p, k, bp - 16, bp == p.len), sq = PlainSums<kRewards>(q, k, bq - 16, bq == q.len);
    for (;;) {
      bp -= 16, bq -= 16;
      const BlockSumsOf cp = sp, cq = sq;
      const bool more = bp > 0 && bq > 0;
      if (more) sp = PlainSums<kRewards>(p, k, bp - 16, false), sq = PlainSums<kRewards>(q, k, bq - 16, false);
      PlainFinish<kReturns>(k, cp, carry_p, p.adv + bp, kReturns ? p.ret + bp : nullptr);
      PlainFinish<kReturns>(k, cq, carry_q, q.adv + bq, kReturns ? q.ret + bq : nullptr);
      if (!more) break;
    }
  }
  for (; bp > 0;) bp -= 16, PlainBlock(p, k, bp, carry_p, p.adv + bp, p.ret ? p.ret + bp : nullptr);
  for (; bq > 0;) bq -= 16, PlainBlock(q, k, bq, carry_q, q.adv + bq, q.ret ? q.ret + bq : nullptr);
}

// PlainScanPair for this call's inputs and outputs.
void PlainScanPairOf(const PlainOp& p, const PlainOp& q, const ScanPowers& k) {
  if (p.r) p.ret ? PlainScanPair<true, true>(p, q, k) : PlainScanPair<true, false>(p, q, k);
  else p.ret ? PlainScanPair<false, true>(p, q, k) : PlainScanPair<false, false>(p, q, k);
}

// One sequence out of cache: inputs prefetched, outputs staged and streamed (see above).
void PlainScanStream(const PlainOp& op, const ScanPowers& k) {
  __m128d carry = PlainHead(op);
  alignas(64) float stage_adv[kStageTokens], stage_ret[kStageTokens];
  // Chunks [lo, hi) from the end, starting at multiples of kStageTokens.
  for (size_t hi = op.len - op.len % 16; hi > 0;) {
    const size_t lo = (hi - 1) / kStageTokens * kStageTokens;
    for (size_t b = hi; b > lo;) {
      b -= 16;
      if (b >= kPrefetchTokens) {  // one hint per 64 bytes of each input
        _mm_prefetch(reinterpret_cast<const char*>(op.v + b - kPrefetchTokens), _MM_HINT_T0);
        if (op.r) _mm_prefetch(reinterpret_cast<const char*>(op.r + b - kPrefetchTokens), _MM_HINT_T0);
      }
      PlainBlock(op, k, b, carry, stage_adv + (b - lo), stage_ret + (b - lo));
    }
    StreamOut(op.adv + lo, stage_adv, hi - lo);
    if (op.ret) StreamOut(op.ret + lo, stage_ret, hi - lo);
    hi = lo;
  }
  simd::Fence(true);
}
#endif

// One sequence as a single-column scan (native/core/scan.h, N = 1). The scan state is held in
// locals for the whole range so the recurrence chain stays in registers.
template <class Op>
struct SequenceView {
  const Op& op;
  double Boundary(size_t) const { return 0.0; }
  template <bool kWrite>
  void Rows(size_t t_lo, size_t t_hi, size_t, size_t, double* s0, double* s1) const {
    double y0 = s0[0], y1 = kWrite ? 0.0 : s1[0];
    for (size_t t = t_hi; t-- > t_lo;) {
      double a, c;
      op.Coef(t, &a, &c);
      const double y = ScanApply<kWrite>(a, c, &y0, &y1, 0);
      if constexpr (kWrite) op.Put(t, y);
    }
    s0[0] = y0;
    if constexpr (!kWrite) s1[0] = y1;
  }
};

// Reverse scan of one sequence with boundary 0: split over time across the pool when
// `parallel` (ReverseScan), else on the calling thread (no allocation: this runs inside
// ParallelFor tasks, where nothing may throw).
template <class Op>
void ScanSequence(const Op& op, size_t len, bool parallel) {
  const SequenceView<Op> view{op};
  if (parallel) {
    ReverseScan(view, len, 1);
  } else {
    const double zero = 0.0;
    ScanRange(view, 0, len, 0, 1, &zero);
  }
}

// What every sequence of a call shares.
struct SequenceContext {
  const TokenGaeProblem& p;
#if RLCORE_SCAN_SIMD
  ScanPowers powers;
  explicit SequenceContext(const TokenGaeProblem& q) : p(q), powers(static_cast<double>(q.gamma) * q.lambda) {}
#else
  explicit SequenceContext(const TokenGaeProblem& q) : p(q) {}
#endif
};

// ScanSequence of a PlainOp, out of line: inlined, it grew RunSequence's stack frame, which
// measured ~10% slower on PlainScanStream (T = 10^6, identical code) on the test machine.
[[gnu::noinline]] void ScanPlainSequence(const PlainOp& op, size_t len, bool parallel) { ScanSequence(op, len, parallel); }

// Whether the block scans apply: they need c = γλ != 0; with γλ = 0, A_t = δ_t (y = a where
// c = 0, never a + 0 · y: see native/core/scan.h), which the generic scan gives.
inline bool BlockScans(const TokenGaeProblem& p) { return static_cast<double>(p.gamma) * p.lambda != 0.0; }

// Sequence b (tokens [s, s + len)) without a mask.
PlainOp MakePlainOp(const TokenGaeProblem& p, size_t b, size_t s, size_t len) {
  return PlainOp{p.rewards ? p.rewards + s : nullptr, p.values + s, p.advantages + s, p.returns ? p.returns + s : nullptr,
                 len, p.terminal_rewards ? p.terminal_rewards[b] : 0.0, p.gamma, static_cast<double>(p.gamma) * p.lambda};
}

// Scans sequence b, whose tokens are [s, s + len): over the pool when `parallel`, else on the
// calling thread.
void RunSequence(const SequenceContext& ctx, size_t b, size_t s, size_t len, bool parallel) {
  const TokenGaeProblem& p = ctx.p;
  if (len == 0) return;
  if (p.mask) {
    const double g = p.gamma, gl = static_cast<double>(p.gamma) * p.lambda;
    const double R = p.terminal_rewards ? p.terminal_rewards[b] : 0.0;
    const float* r = p.rewards ? p.rewards + s : nullptr;
    float* ret = p.returns ? p.returns + s : nullptr;
    ScanSequence(NextValueOp{p.values + s, p.mask + s, p.advantages + s, len, R, g}, len, parallel);
    ScanSequence(MaskedOp{r, p.values + s, p.mask + s, p.advantages + s, ret, gl}, len, parallel);
  } else {
    const PlainOp op = MakePlainOp(p, b, s, len);
#if RLCORE_SCAN_SIMD
    // One pass at memory speed on one thread beats the two-pass split over the pool.
    if (!BlockScans(p)) ScanPlainSequence(op, len, parallel);
    else if (p.total >= simd::kStreamElements) PlainScanStream(op, ctx.powers);
    else PlainScan16(op, ctx.powers);
#else
    ScanPlainSequence(op, len, parallel);
#endif
  }
}

// The sequences in [b0, b1) shorter than `max_len`, on the calling thread. In cache and without
// a mask, two at a time (PlainScanPair).
void RunSequences(const SequenceContext& ctx, const size_t* starts, size_t b0, size_t b1, size_t max_len) {
  auto len = [&](size_t b) { return starts[b + 1] - starts[b]; };
#if RLCORE_SCAN_SIMD
  const TokenGaeProblem& p = ctx.p;
  if (!p.mask && BlockScans(p) && p.total < simd::kStreamElements) {
    size_t pending = b1;  // a sequence waiting for a partner
    for (size_t b = b0; b < b1; ++b) {
      if (len(b) == 0 || len(b) >= max_len) continue;
      if (pending == b1) {
        pending = b;
        continue;
      }
      PlainScanPairOf(MakePlainOp(p, pending, starts[pending], len(pending)), MakePlainOp(p, b, starts[b], len(b)),
                    ctx.powers);
      pending = b1;
    }
    if (pending != b1) PlainScan16(MakePlainOp(p, pending, starts[pending], len(pending)), ctx.powers);
    return;
  }
#endif
  for (size_t b = b0; b < b1; ++b)
    if (len(b) < max_len) RunSequence(ctx, b, starts[b], len(b), false);
}

// tokenGae(lengths?, offsets?, B?, L?, mask?, rewards?, terminalRewards?, values, gamma, lambda,
//          outAdvantages, outReturns?, useCuda, async)
// Packed layout: lengths or offsets (B from their length, B and L absent). Padded: B and L.
Napi::Value TokenGaeBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "tokenGae";
  Napi::Env env = info.Env();
  TokenGaeProblem p;
  ArrayArg<int32_t> lengths = I32Arg(info, 0, kKernel, "lengths", true, SIZE_MAX, "");
  ArrayArg<int32_t> offsets = I32Arg(info, 1, kKernel, "offsets", true, SIZE_MAX, "");
  const bool packed = lengths || offsets;
  auto given = [&](size_t i) { return i < info.Length() && !info[i].IsUndefined() && !info[i].IsNull(); };
  if (lengths && offsets) ThrowError(env, "ERR_ARG", "tokenGae: give lengths or offsets, not both");
  if (packed && (given(2) || given(3) || given(4))) {
    ThrowError(env, "ERR_ARG", "tokenGae: the packed layout (lengths/offsets) takes no shape and no mask");
  }
  ArrayArg<float> values = F32Arg(info, 7, kKernel, "values", false, SIZE_MAX, "");
  p.values = values.data;
  Shape tshape;  // formatted only for an error message
  if (packed) {
    p.total = values.length;
    const size_t total = p.total;
    if (lengths) {
      p.B = lengths.length;
      if (p.B == 0) ThrowError(env, "ERR_SHAPE", "tokenGae: lengths must have at least 1 element ([B]); received 0");
      int64_t sum = 0;
      for (size_t b = 0; b < p.B; ++b) {
        if (lengths.data[b] < 0) {
          ThrowError(env, "ERR_RANGE", "tokenGae: lengths[" + std::to_string(b) + "] must be >= 0; received " +
                                           std::to_string(lengths.data[b]));
        }
        sum += lengths.data[b];
      }
      if (static_cast<uint64_t>(sum) != total) {
        ThrowError(env, "ERR_SHAPE", "tokenGae: lengths must sum to the number of tokens (values.length = " +
                                         std::to_string(total) + "); received a sum of " + std::to_string(sum));
      }
      p.lengths = lengths.data;
    } else {
      if (offsets.length < 2) {
        ThrowError(env, "ERR_SHAPE", "tokenGae: offsets must have B+1 >= 2 elements ([B+1]); received " +
                                         std::to_string(offsets.length));
      }
      p.B = offsets.length - 1;
      if (offsets.data[0] != 0) {
        ThrowError(env, "ERR_RANGE", "tokenGae: offsets[0] must be 0; received " + std::to_string(offsets.data[0]));
      }
      for (size_t b = 0; b < p.B; ++b) {
        if (offsets.data[b + 1] < offsets.data[b]) {
          ThrowError(env, "ERR_RANGE", "tokenGae: offsets must be non-decreasing; received offsets[" +
                                           std::to_string(b + 1) + "] = " + std::to_string(offsets.data[b + 1]) +
                                           " < offsets[" + std::to_string(b) + "] = " + std::to_string(offsets.data[b]));
        }
      }
      if (static_cast<size_t>(offsets.data[p.B]) != total) {
        ThrowError(env, "ERR_SHAPE", "tokenGae: offsets[B] must equal the number of tokens (values.length = " +
                                         std::to_string(total) + "); received " + std::to_string(offsets.data[p.B]));
      }
      p.offsets = offsets.data;
    }
    tshape = ShapeText("[total]", {total});
  } else {
    if (!given(2) || !given(3)) {
      ThrowError(env, "ERR_ARG", "tokenGae: give lengths or offsets (packed layout), or the shape [B, L] (padded layout)");
    }
    p.B = SizeArg(info, 2, kKernel, "B");
    p.L = SizeArg(info, 3, kKernel, "L");
    if (p.B > (size_t{1} << 40) / p.L) {
      ThrowError(env, "ERR_SHAPE", "tokenGae: B * L must be at most 2^40; received " + ShapeText("[B, L]", {p.B, p.L}).Text());
    }
    p.total = p.B * p.L;
    tshape = ShapeText("[B, L]", {p.B, p.L});
    if (values.length != p.total) {
      ThrowError(env, "ERR_SHAPE", "tokenGae: values must have " + std::to_string(p.total) + " elements (" +
                                       tshape.Text() + "); received " + std::to_string(values.length));
    }
    p.mask = U8Arg(info, 4, kKernel, "mask", true, p.total, tshape).data;
  }
  const size_t TT = p.total;
  p.rewards = F32Arg(info, 5, kKernel, "rewards", true, TT, tshape).data;
  p.terminal_rewards = F32Arg(info, 6, kKernel, "terminalRewards", true, p.B, ShapeText("[B]", {p.B})).data;
  if (!p.rewards && !p.terminal_rewards) ThrowError(env, "ERR_ARG", "tokenGae: give rewards, terminalRewards or both");
  p.gamma = static_cast<float>(NumberArg(info, 8, kKernel, "gamma", 0.0, 1.0));
  p.lambda = static_cast<float>(NumberArg(info, 9, kKernel, "lambda", 0.0, 1.0));
  ArrayArg<float> ret = F32Arg(info, 11, kKernel, "out.returns", true, TT, tshape);
  p.advantages = F32Arg(info, 10, kKernel, "out.advantages", false, TT, tshape).data;
  p.returns = ret.data;
  const bool use_cuda = BoolArg(info, 12), async = BoolArg(info, 13);
  CheckDevice(env, kKernel, use_cuda);
  const size_t bytes = TT * sizeof(float);
  const void* inputs[] = {p.rewards, p.values, p.terminal_rewards, p.mask, lengths.data, offsets.data};
  const size_t input_bytes[] = {p.rewards ? bytes : 0, bytes, p.terminal_rewards ? p.B * 4 : 0, p.mask ? TT : 0,
                                lengths.length * 4, offsets.length * 4};
  const char* input_names[] = {"rewards", "values", "terminalRewards", "mask", "lengths", "offsets"};
  for (size_t k = 0; k < 6; ++k) {
    CheckNoOverlap(env, kKernel, "out.advantages", p.advantages, bytes, input_names[k], inputs[k], input_bytes[k]);
    CheckNoOverlap(env, kKernel, "out.returns", p.returns, ret ? bytes : 0, input_names[k], inputs[k], input_bytes[k]);
  }
  CheckNoOverlap(env, kKernel, "out.advantages", p.advantages, bytes, "out.returns", p.returns, ret ? bytes : 0);
  const auto lengths_copy = AsyncIndexCopy(async, p.lengths, p.lengths ? p.B : 0);
  const auto offsets_copy = AsyncIndexCopy(async, p.offsets, p.offsets ? p.B + 1 : 0);
  if (lengths_copy) p.lengths = lengths_copy->data();
  if (offsets_copy) p.offsets = offsets_copy->data();
  return RunKernel(info, async, [p, use_cuda, lengths_copy, offsets_copy] {
#ifdef RLCORE_WITH_CUDA
    if (use_cuda) return cuda::TokenGae(p);
#endif
    (void)use_cuda;
    TokenGaeCpu(p);
  }, KeepArgs{0, 12});
}

}  // namespace

void TokenGaeCpu(const TokenGaeProblem& p) {
  // starts[b]: first token of sequence b; starts[B] = total. Scratch of the calling thread,
  // grown only (in cache, a heap allocation per call is a visible share of it).
  thread_local std::vector<size_t> starts_buf;
  if (starts_buf.size() < p.B + 1) starts_buf.resize(p.B + 1);
  size_t* const starts = starts_buf.data();
  const SequenceContext ctx(p);
  for (size_t b = 0; b <= p.B; ++b) {
    if (p.L) starts[b] = b * p.L;
    else if (p.offsets) starts[b] = static_cast<size_t>(p.offsets[b]);
    else starts[b] = b == 0 ? 0 : starts[b - 1] + static_cast<size_t>(p.lengths[b - 1]);
  }
  auto len = [&](size_t b) { return starts[b + 1] - starts[b]; };
  const bool threaded = NumThreads() > 1 && p.B > 1 && p.total >= kParallelTokens;
  // Short sequences: parts of ~equal token counts; part q owns the sequences that start in
  // [total*q/P, total*(q+1)/P) (a part boundary never splits a sequence).
  const size_t P = threaded ? std::min(p.B, static_cast<size_t>(NumThreads()) * 8) : 1;
  auto run_part = [&](size_t q) {
    const size_t lo = p.total * q / P, hi = p.total * (q + 1) / P;
    const size_t first = std::lower_bound(starts, starts + p.B, lo) - starts;
    size_t last = first;  // sequences [first, last) start in this part
    while (last < p.B && (starts[last] < hi || (q + 1 == P && starts[last] == hi))) ++last;
    // Threaded, long sequences are split over the pool below.
    RunSequences(ctx, starts, first, last, threaded ? kLongSequence : SIZE_MAX);
  };
  if (P == 1) run_part(0);
  else ParallelFor(P, 1, [&](size_t q0, size_t q1) { for (size_t q = q0; q < q1; ++q) run_part(q); });
  // Long sequences, one after another, each split over time across the pool.
  if (threaded)
    for (size_t b = 0; b < p.B; ++b)
      if (len(b) >= kLongSequence) RunSequence(ctx, b, starts[b], len(b), true);
}

RLCORE_EXPORT(tokenGae, TokenGaeBinding);

}  // namespace rlcore
