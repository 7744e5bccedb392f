// The device replay buffer's arithmetic (cuda/replay.cu), as __host__ __device__ functors so that
// cuda/test/replay_host.cu runs the very same code on host memory against the CPU buffer
// (scripts/cuda-host-check.sh). Everything that decides which rows are drawn is the CPU's
// arithmetic, operation for operation, so the same seed draws the same rows:
//   uniform:      row_b = RandomStream(seed, call, b).Below(size)       (replay_buffer.cc Sample)
//   proportional: m_b = UniformDouble(Philox(seed, b, call)) · Σ p^α, then the 8-ary descent of
//                 PriorityTree::FindMany (prefix sums of the 8 children in order, j = #{k ≥ 1 :
//                 m ≥ prefix_k}, m −= prefix_j), clamped to size − 1; ratio_b = p_row / p_min.
// These are additions, comparisons, one product (__dmul_rn on the device, so that it is never
// contracted into a multiply-add) and one quotient, so device and host agree bit for bit. Tree nodes are recomputed from their 8 children
// in a fixed order (PriorityTree::Recompute), level by level (one launch per level, one thread per
// distinct node): deterministic, and equal to the CPU tree. Leaves (p + ε)^α and the importance
// weights (ratio)^−β are computed on the host with the CPU's PowMany (native/replay/fast_pow.h).
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../native/core/rng.h"
#include "../native/replay/replay_buffer.h"
#include "backend.h"

namespace rlcore::cuda::replay_dev {

#define RLCORE_REPLAY_HD __host__ __device__ __forceinline__

using rlcore::replay::kNextObs;
using rlcore::replay::kReward;
using rlcore::replay::kTerminated;
using rlcore::replay::kTruncated;

constexpr size_t kFan = 8;
constexpr size_t kShift = 3;
constexpr int kMaxLevels = 16;  // 8^11 > 2^31 rows

/// Level sizes of PriorityTree::Allocate (leaves first; the last level has kFan nodes).
inline std::vector<size_t> TreeLevelSizes(size_t capacity) {
  std::vector<size_t> sizes;
  size_t n = capacity > kFan * kFan ? capacity : kFan * kFan;
  for (;;) {
    const size_t padded = (n + kFan - 1) / kFan * kFan;
    sizes.push_back(padded);
    if (padded == kFan) break;
    n = padded / kFan;
  }
  return sizes;
}

/// The sum and min trees (min[0] unused: the minimum's leaves are sum[0]); leaves [0, used) set.
struct TreeView {
  int levels = 0;
  double* sum[kMaxLevels] = {};
  double* min[kMaxLevels] = {};
  size_t used = 0;

  static RLCORE_REPLAY_HD double Root(const double* top, bool is_min) {
    double r = top[0];
    for (size_t j = 1; j < kFan; ++j) r = is_min ? (top[j] < r ? top[j] : r) : r + top[j];
    return r;
  }
  RLCORE_REPLAY_HD double Total() const { return Root(sum[levels - 1], false); }
  RLCORE_REPLAY_HD double Min() const { return Root(min[levels - 1], true); }

  /// PriorityTree::Recompute: node i of level l from its 8 children.
  RLCORE_REPLAY_HD void Recompute(int l, size_t i) const {
    const double* cs = sum[l - 1] + i * kFan;
    double s = cs[0];
    for (size_t j = 1; j < kFan; ++j) s += cs[j];
    double m;
    if (l > 1) {
      const double* cm = min[l - 1] + i * kFan;
      m = cm[0];
      for (size_t j = 1; j < kFan; ++j) m = cm[j] < m ? cm[j] : m;
    } else if ((i + 1) * kFan <= used) {
      m = cs[0];
      for (size_t j = 1; j < kFan; ++j) m = cs[j] < m ? cs[j] : m;
    } else {  // the node holding the first leaf never set: those leaves are +inf for the minimum
      m = static_cast<double>(INFINITY);
      for (size_t j = 0; i * kFan + j < used; ++j) m = cs[j] < m ? cs[j] : m;
    }
    sum[l][i] = s;
    min[l][i] = m;
  }

  /// The leaf whose prefix-sum interval holds mass m (one sample of PriorityTree::FindMany).
  RLCORE_REPLAY_HD size_t Find(double m) const {
    size_t node = 0;
    for (int l = levels - 1; l >= 0; --l) {
      const double* c = sum[l] + node * kFan;
      double prefix[kFan + 1];
      prefix[0] = 0.0;
      for (size_t k = 0; k < kFan; ++k) prefix[k + 1] = prefix[k] + c[k];
      size_t j = 0;
      for (size_t k = 1; k < kFan; ++k) j += m >= prefix[k] ? 1 : 0;
      m = m - prefix[j];
      node = node * kFan + j;
    }
    return node;
  }
};

/// One field's column: [capacity, row_bytes] bytes.
struct FieldDesc {
  uint8_t* column;
  uint64_t row_bytes;
};

/// Copies are 4-byte words when a row is whole words (f32 / i32 fields), else bytes.
RLCORE_REPLAY_HD size_t Units(size_t row_bytes) { return row_bytes % 4 == 0 ? row_bytes / 4 : row_bytes; }
RLCORE_REPLAY_HD void CopyUnit(uint8_t* dst, const uint8_t* src, size_t row_bytes, size_t u) {
  if (row_bytes % 4 == 0) {
    reinterpret_cast<uint32_t*>(dst)[u] = reinterpret_cast<const uint32_t*>(src)[u];
  } else {
    dst[u] = src[u];
  }
}

inline size_t Align16(size_t x) { return (x + 15) / 16 * 16; }

/// Where each piece of one insert part lies in the staging buffer (one host-to-device copy):
/// offsets[f] per field (then final obs, links, old links), all 16-byte aligned.
struct InsertPlan {
  std::vector<uint64_t> offsets;  // [F + 3]: fields, final obs (or ~0), next, old links
  size_t bytes = 0;
};
inline InsertPlan PlanInsert(const std::vector<size_t>& row_bytes, const ReplayInsertPart& part) {
  InsertPlan p;
  const size_t F = row_bytes.size();
  size_t at = Align16((F + 3) * sizeof(uint64_t));
  for (size_t f = 0; f < F; ++f) {
    p.offsets.push_back(at);
    at += Align16(part.rows * row_bytes[f]);
  }
  p.offsets.push_back(part.final_obs ? at : ~uint64_t{0});
  if (part.final_obs) at += Align16(part.rows * row_bytes[kNextObs]);
  p.offsets.push_back(at);
  at += Align16(part.rows * sizeof(int64_t));
  p.offsets.push_back(at);
  at += Align16(part.num_old_links * 2 * sizeof(int64_t));
  p.bytes = at;
  return p;
}
inline void PackInsert(const std::vector<size_t>& row_bytes, const ReplayInsertPart& part, const InsertPlan& p,
                       uint8_t* stage) {
  const size_t F = row_bytes.size();
  std::memcpy(stage, p.offsets.data(), p.offsets.size() * sizeof(uint64_t));
  for (size_t f = 0; f < F; ++f) std::memcpy(stage + p.offsets[f], part.fields[f], part.rows * row_bytes[f]);
  if (part.final_obs) std::memcpy(stage + p.offsets[F], part.final_obs, part.rows * row_bytes[kNextObs]);
  std::memcpy(stage + p.offsets[F + 1], part.next, part.rows * sizeof(int64_t));
  if (part.num_old_links) std::memcpy(stage + p.offsets[F + 2], part.old_links, part.num_old_links * 2 * sizeof(int64_t));
}

/// Scatters one staged insert part into the ring (AddPart's record and link passes).
struct InsertOp {
  const FieldDesc* fields;
  size_t num_fields, capacity, rows, first_slot;
  const uint8_t* stage;  // header: offsets (InsertPlan)
  int64_t* next;         // [capacity]

  RLCORE_REPLAY_HD uint64_t Offset(size_t i) const { return reinterpret_cast<const uint64_t*>(stage)[i]; }
  RLCORE_REPLAY_HD size_t Slot(size_t k) const {
    const size_t s = first_slot + k;
    return s >= capacity ? s - capacity : s;
  }
  RLCORE_REPLAY_HD size_t FieldUnits(size_t f) const { return Units(fields[f].row_bytes); }
  /// Unit u of row k of field f; the next observation comes from the final observations where done.
  RLCORE_REPLAY_HD void Field(size_t f, size_t k, size_t u) const {
    const size_t rb = fields[f].row_bytes;
    const uint8_t* src = stage + Offset(f) + k * rb;
    if (f == kNextObs && Offset(num_fields) != ~uint64_t{0}) {
      const bool done = stage[Offset(kTerminated) + k] != 0 || stage[Offset(kTruncated) + k] != 0;
      if (done) src = stage + Offset(num_fields) + k * rb;
    }
    CopyUnit(fields[f].column + Slot(k) * rb, src, rb, u);
  }
  /// The new row k's link.
  RLCORE_REPLAY_HD void Link(size_t k) const {
    next[Slot(k)] = reinterpret_cast<const int64_t*>(stage + Offset(num_fields + 1))[k];
  }
  /// Old link j: an older row (not overwritten by this part) now followed by a new one.
  RLCORE_REPLAY_HD void OldLink(size_t j) const {
    const int64_t* l = reinterpret_cast<const int64_t*>(stage + Offset(num_fields + 2)) + 2 * j;
    next[l[0]] = l[1];
  }
};

struct LinkFn {
  InsertOp op;
  RLCORE_REPLAY_HD void operator()(size_t k) const { op.Link(k); }
};
struct OldLinkFn {
  InsertOp op;
  RLCORE_REPLAY_HD void operator()(size_t j) const { op.OldLink(j); }
};

/// The gather upload: [F] out offsets, rows [count] (int32), want [F] (1: the caller wants field f).
struct GatherPlan {
  std::vector<uint64_t> offsets;  // [F]: field regions in the output
  size_t rows_at = 0, want_at = 0, upload_bytes = 0, out_bytes = 0;
};
inline GatherPlan PlanGather(const std::vector<size_t>& row_bytes, size_t count) {
  GatherPlan p;
  size_t at = 0;
  for (size_t rb : row_bytes) {
    p.offsets.push_back(at);
    at += Align16(count * rb);
  }
  p.out_bytes = at;
  p.rows_at = Align16(row_bytes.size() * sizeof(uint64_t));
  p.want_at = p.rows_at + Align16(count * sizeof(int32_t));
  p.upload_bytes = p.want_at + Align16(row_bytes.size());
  return p;
}
inline void PackGather(const GatherPlan& p, const int32_t* rows, size_t count, const std::vector<uint8_t*>& outs,
                       uint8_t* upload) {
  std::memcpy(upload, p.offsets.data(), p.offsets.size() * sizeof(uint64_t));
  std::memcpy(upload + p.rows_at, rows, count * sizeof(int32_t));
  for (size_t f = 0; f < outs.size(); ++f) upload[p.want_at + f] = outs[f] ? 1 : 0;
}

/// ReplayBuffer::Gather with n = 1: a copy of the row (−1: zeros), the reward as the CPU's
/// 1-step return (float)(0.0 + 1.0 · r).
struct GatherOp {
  const FieldDesc* fields;
  size_t count;
  const uint8_t* upload;  // GatherPlan layout
  size_t rows_at, want_at;
  uint8_t* out;

  RLCORE_REPLAY_HD size_t FieldUnits(size_t f) const { return Units(fields[f].row_bytes); }
  RLCORE_REPLAY_HD void Field(size_t f, size_t b, size_t u) const {
    if (upload[want_at + f] == 0) return;
    const size_t rb = fields[f].row_bytes;
    uint8_t* dst = out + reinterpret_cast<const uint64_t*>(upload)[f] + b * rb;
    const int32_t r = reinterpret_cast<const int32_t*>(upload + rows_at)[b];
    if (r < 0) {
      if (rb % 4 == 0) {
        reinterpret_cast<uint32_t*>(dst)[u] = 0;
      } else {
        dst[u] = 0;
      }
      return;
    }
    const uint8_t* src = fields[f].column + static_cast<size_t>(r) * rb;
    if (f == kReward) {
      const float g = static_cast<float>(0.0 + static_cast<double>(*reinterpret_cast<const float*>(src)));
      *reinterpret_cast<float*>(dst) = g;
      return;
    }
    CopyUnit(dst, src, rb, u);
  }
};

/// Sampling (see the top of this file).
struct SampleFn {
  TreeView tree;
  uint64_t seed, call;
  size_t size;
  int32_t* rows;
  double* ratio;  // null: uniform
  RLCORE_REPLAY_HD void operator()(size_t b) const {
    if (ratio == nullptr) {
      RandomStream rs(seed, call, b);
      rows[b] = static_cast<int32_t>(rs.Below(static_cast<uint32_t>(size)));
      return;
    }
    const Philox4 x = Philox(seed, b, call);
#ifdef __CUDA_ARCH__
    // Rounded as its own product: never fused with the descent's first subtraction.
    const double mass = __dmul_rn(UniformDouble(x.v[0], x.v[1]), tree.Total());
#else
    const double mass = UniformDouble(x.v[0], x.v[1]) * tree.Total();
#endif
    const size_t leaf = tree.Find(mass);
    const size_t i = leaf < size ? leaf : size - 1;  // rounding at the right edge
    rows[b] = static_cast<int32_t>(i);
    ratio[b] = tree.sum[0][i] / tree.Min();
  }
};

/// d[i] = value.
struct FillFn {
  double* d;
  double value;
  RLCORE_REPLAY_HD void operator()(size_t i) const { d[i] = value; }
};
/// Leaves rows[k] = leaves[k] (rows distinct).
struct SetLeavesFn {
  double* leaf;
  const int32_t* rows;
  const double* leaves;
  RLCORE_REPLAY_HD void operator()(size_t k) const { leaf[rows[k]] = leaves[k]; }
};
/// Level l's nodes lo + i (SetRange: a contiguous range).
struct RecomputeRangeFn {
  TreeView tree;
  int level;
  size_t lo;
  RLCORE_REPLAY_HD void operator()(size_t i) const { tree.Recompute(level, lo + i); }
};
/// Level l's parents of sorted rows, each once (the first row of each run of equal parents).
struct RecomputeRowsFn {
  TreeView tree;
  int level;
  const int32_t* rows;
  RLCORE_REPLAY_HD void operator()(size_t k) const {
    const size_t shift = kShift * static_cast<size_t>(level);
    const size_t node = static_cast<size_t>(rows[k]) >> shift;
    if (k > 0 && (static_cast<size_t>(rows[k - 1]) >> shift) == node) return;
    tree.Recompute(level, node);
  }
};
/// out[k] = leaf of rows[k].
struct LeavesFn {
  const double* leaf;
  const int32_t* rows;
  double* out;
  RLCORE_REPLAY_HD void operator()(size_t k) const { out[k] = leaf[rows[k]]; }
};

}  // namespace rlcore::cuda::replay_dev
