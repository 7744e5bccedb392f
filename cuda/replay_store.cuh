// The device replay store's entry points (backend.h's Replay* functions) written once over a
// memory backend `Mem`: cuda/replay.cu instantiates it with device memory and kernel launches,
// cuda/test/replay_host.cu with host memory and plain loops, so that scripts/cuda-host-check.sh
// runs this exact sequence of packs, copies and functors (cuda/replay.cuh) without a GPU.
//
// Mem provides: Alloc(bytes) (owned, freed with Mem), Staging(bytes) (host, pinned on the device
// backend) and Scratch(bytes) (device), each reused and grown per call; Up / Down (copies on the
// store's stream); ForEach(n, fn) (fn(i) for i < n, in any order); ForFields(F, rows, max_units,
// op) (op.Field(f, row, unit) for every field, row and unit); Sync().
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "replay.cuh"

namespace rlcore::cuda::replay_dev {

template <class Mem>
class StoreImpl {
 public:
  StoreImpl(size_t capacity, const std::vector<size_t>& row_bytes, bool prioritized)
      : capacity_(capacity), row_bytes_(row_bytes), prioritized_(prioritized) {
    for (size_t rb : row_bytes_) {
      fields_.push_back(FieldDesc{static_cast<uint8_t*>(mem_.Alloc(capacity * rb)), rb});
      max_units_ = std::max(max_units_, Units(rb));
    }
    d_fields_ = static_cast<FieldDesc*>(mem_.Alloc(fields_.size() * sizeof(FieldDesc)));
    mem_.Up(d_fields_, fields_.data(), fields_.size() * sizeof(FieldDesc));
    next_ = static_cast<int64_t*>(mem_.Alloc(capacity * sizeof(int64_t)));
    if (prioritized_) {
      const std::vector<size_t> sizes = TreeLevelSizes(capacity);
      if (sizes.size() > static_cast<size_t>(kMaxLevels)) throw std::length_error("replay: priority tree too deep");
      tree_.levels = static_cast<int>(sizes.size());
      for (size_t l = 0; l < sizes.size(); ++l) {
        tree_.sum[l] = static_cast<double*>(mem_.Alloc(sizes[l] * sizeof(double)));
        mem_.ForEach(sizes[l], FillFn{tree_.sum[l], 0.0});
        if (l == 0) continue;
        tree_.min[l] = static_cast<double*>(mem_.Alloc(sizes[l] * sizeof(double)));
        mem_.ForEach(sizes[l], FillFn{tree_.min[l], static_cast<double>(INFINITY)});
      }
    }
    mem_.Sync();
  }

  void Insert(const ReplayInsertPart& part) {
    if (part.rows == 0) return;
    const InsertPlan plan = PlanInsert(row_bytes_, part);
    uint8_t* stage = mem_.Staging(plan.bytes);
    PackInsert(row_bytes_, part, plan, stage);
    uint8_t* dev = mem_.Scratch(plan.bytes);
    mem_.Up(dev, stage, plan.bytes);
    const InsertOp op{d_fields_, fields_.size(), capacity_, part.rows, part.first_slot, dev, next_};
    mem_.ForFields(fields_.size(), part.rows, max_units_, op);
    // Disjoint slots: the new rows' links, and older rows (still stored) now followed by a new one.
    mem_.ForEach(part.rows, LinkFn{op});
    mem_.ForEach(part.num_old_links, OldLinkFn{op});
    mem_.Sync();
  }

  void SetRange(size_t first, size_t count, double leaf) {
    if (count == 0) return;
    if (first + count > tree_.used) tree_.used = first + count;
    mem_.ForEach(count, FillFn{tree_.sum[0] + first, leaf});
    size_t lo = first, hi = first + count - 1;  // inclusive
    for (int l = 1; l < tree_.levels; ++l) {
      lo >>= kShift;
      hi >>= kShift;
      mem_.ForEach(hi - lo + 1, RecomputeRangeFn{tree_, l, lo});
    }
    mem_.Sync();
  }

  void SetMany(const int32_t* rows, const double* leaves, size_t count) {
    if (count == 0) return;
    const size_t leaves_at = Align16(count * sizeof(int32_t)), bytes = leaves_at + count * sizeof(double);
    uint8_t* stage = mem_.Staging(bytes);
    std::memcpy(stage, rows, count * sizeof(int32_t));
    std::memcpy(stage + leaves_at, leaves, count * sizeof(double));
    uint8_t* dev = mem_.Scratch(bytes);
    mem_.Up(dev, stage, bytes);
    const int32_t* d_rows = reinterpret_cast<const int32_t*>(dev);
    mem_.ForEach(count, SetLeavesFn{tree_.sum[0], d_rows, reinterpret_cast<const double*>(dev + leaves_at)});
    for (int l = 1; l < tree_.levels; ++l) mem_.ForEach(count, RecomputeRowsFn{tree_, l, d_rows});
    mem_.Sync();
  }

  void Roots(double* total, double* min) {
    double top[2 * kFan];
    mem_.Down(top, tree_.sum[tree_.levels - 1], kFan * sizeof(double));
    mem_.Down(top + kFan, tree_.min[tree_.levels - 1], kFan * sizeof(double));
    mem_.Sync();
    *total = TreeView::Root(top, false);
    *min = TreeView::Root(top + kFan, true);
  }

  void Sample(uint64_t seed, uint64_t call, size_t size, size_t batch, int32_t* rows, double* ratio) {
    if (batch == 0) return;
    const size_t ratio_at = Align16(batch * sizeof(int32_t));
    uint8_t* dev = mem_.Scratch(ratio_at + batch * sizeof(double));
    int32_t* d_rows = reinterpret_cast<int32_t*>(dev);
    double* d_ratio = ratio ? reinterpret_cast<double*>(dev + ratio_at) : nullptr;
    mem_.ForEach(batch, SampleFn{tree_, seed, call, size, d_rows, d_ratio});
    mem_.Down(rows, d_rows, batch * sizeof(int32_t));
    if (ratio) mem_.Down(ratio, d_ratio, batch * sizeof(double));
    mem_.Sync();
  }

  void Gather(const int32_t* rows, size_t count, const std::vector<uint8_t*>& outs) {
    if (count == 0) return;
    const GatherPlan plan = PlanGather(row_bytes_, count);
    const size_t out_at = Align16(plan.upload_bytes);
    uint8_t* stage = mem_.Staging(out_at + plan.out_bytes);
    PackGather(plan, rows, count, outs, stage);
    uint8_t* dev = mem_.Scratch(out_at + plan.out_bytes);
    mem_.Up(dev, stage, plan.upload_bytes);
    const GatherOp op{d_fields_, count, dev, plan.rows_at, plan.want_at, dev + out_at};
    mem_.ForFields(fields_.size(), count, max_units_, op);
    mem_.Down(stage + out_at, dev + out_at, plan.out_bytes);
    mem_.Sync();
    for (size_t f = 0; f < outs.size(); ++f) {
      if (outs[f]) std::memcpy(outs[f], stage + out_at + plan.offsets[f], count * row_bytes_[f]);
    }
  }

  void Leaves(const int32_t* rows, size_t count, double* out) {
    if (count == 0) return;
    const size_t out_at = Align16(count * sizeof(int32_t));
    uint8_t* dev = mem_.Scratch(out_at + count * sizeof(double));
    mem_.Up(dev, rows, count * sizeof(int32_t));
    double* d_out = reinterpret_cast<double*>(dev + out_at);
    mem_.ForEach(count, LeavesFn{tree_.sum[0], reinterpret_cast<const int32_t*>(dev), d_out});
    mem_.Down(out, d_out, count * sizeof(double));
    mem_.Sync();
  }

  void Download(size_t size, const std::vector<uint8_t*>& columns, int64_t* next, double* leaves) {
    for (size_t f = 0; f < fields_.size(); ++f) mem_.Down(columns[f], fields_[f].column, size * row_bytes_[f]);
    mem_.Down(next, next_, size * sizeof(int64_t));
    if (prioritized_ && leaves) mem_.Down(leaves, tree_.sum[0], size * sizeof(double));
    mem_.Sync();
  }

  /// Rows [0, size) written raw, then the tree rebuilt over them (PriorityTree::Rebuild).
  void Upload(size_t size, const std::vector<const uint8_t*>& columns, const int64_t* next, const double* leaves) {
    for (size_t f = 0; f < fields_.size(); ++f) mem_.Up(fields_[f].column, columns[f], size * row_bytes_[f]);
    mem_.Up(next_, next, size * sizeof(int64_t));
    if (prioritized_ && leaves && size > 0) {
      mem_.Up(tree_.sum[0], leaves, size * sizeof(double));
      tree_.used = size;
      size_t hi = size - 1;
      for (int l = 1; l < tree_.levels; ++l) {
        hi >>= kShift;
        mem_.ForEach(hi + 1, RecomputeRangeFn{tree_, l, 0});
      }
    }
    mem_.Sync();
  }

 private:
  Mem mem_;  // first: frees everything if the constructor throws
  size_t capacity_;
  std::vector<size_t> row_bytes_;
  bool prioritized_;
  std::vector<FieldDesc> fields_;
  FieldDesc* d_fields_ = nullptr;
  size_t max_units_ = 1;
  int64_t* next_ = nullptr;
  TreeView tree_;
};

}  // namespace rlcore::cuda::replay_dev

// backend.h's entry points over rlcore::cuda::ReplayStore (a StoreImpl<Mem>, defined by the file
// including this one).
#define RLCORE_REPLAY_ENTRY_POINTS                                                                          \
  ReplayStore* ReplayAlloc(size_t capacity, const std::vector<size_t>& row_bytes, bool prioritized) {       \
    return new ReplayStore(capacity, row_bytes, prioritized);                                              \
  }                                                                                                        \
  void ReplayFree(ReplayStore* s) { delete s; }                                                            \
  void ReplayInsert(ReplayStore* s, const ReplayInsertPart& part) { s->Insert(part); }                     \
  void ReplaySetRange(ReplayStore* s, size_t first, size_t count, double leaf) { s->SetRange(first, count, leaf); } \
  void ReplaySetMany(ReplayStore* s, const int32_t* rows, const double* leaves, size_t count) {            \
    s->SetMany(rows, leaves, count);                                                                       \
  }                                                                                                        \
  void ReplayRoots(ReplayStore* s, double* total, double* min) { s->Roots(total, min); }                  \
  void ReplaySample(ReplayStore* s, uint64_t seed, uint64_t call, size_t size, size_t batch, int32_t* rows, \
                    double* ratio) {                                                                       \
    s->Sample(seed, call, size, batch, rows, ratio);                                                       \
  }                                                                                                        \
  void ReplayGather(ReplayStore* s, const int32_t* rows, size_t count, const std::vector<uint8_t*>& outs) { \
    s->Gather(rows, count, outs);                                                                          \
  }                                                                                                        \
  void ReplayLeaves(ReplayStore* s, const int32_t* rows, size_t count, double* out) { s->Leaves(rows, count, out); } \
  void ReplayDownload(ReplayStore* s, size_t size, const std::vector<uint8_t*>& columns, int64_t* next,     \
                      double* leaves) {                                                                    \
    s->Download(size, columns, next, leaves);                                                              \
  }                                                                                                        \
  void ReplayUpload(ReplayStore* s, size_t size, const std::vector<const uint8_t*>& columns, const int64_t* next, \
                    const double* leaves) {                                                                \
    s->Upload(size, columns, next, leaves);                                                                \
  }
