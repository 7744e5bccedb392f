// Sum tree and min tree over priorities for proportional prioritized replay (Schaul et al. 2016,
// "Prioritized Experience Replay", arXiv:1511.05952, appendix B.2.1). Leaves hold p_i^α; an
// inner node holds the sum (and the minimum) of its children, always recomputed from them in a
// fixed order, so the tree is a deterministic function of its leaves (a reloaded buffer rebuilds
// it bit for bit). Sums are float64: at 10M leaves float32 would lose small priorities.
//
// The tree is 8-ary with each node's 8 children in one 64-byte cache line: a descent at 1M
// leaves touches 7 lines instead of 20, and a batch of descents runs level by level with the
// next lines prefetched, so the memory latency of independent samples overlaps. The min tree
// shares the leaves (a leaf is its own minimum): its first level is computed from the sum
// tree's leaves, ignoring leaves never set, so an update misses one line fewer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include "huge_alloc.h"

namespace rlcore::replay {

class PriorityTree {
 public:
  static constexpr size_t kFan = 8;
  static constexpr size_t kShift = 3;  // log2(kFan): node of leaf i at level l is i >> (kShift * l)

  /// An empty tree over `capacity` leaves (unused leaves count 0 in sums and +inf in minima).
  void Allocate(size_t capacity) {
    sizes_.clear();
    size_t n = capacity > kFan * kFan ? capacity : kFan * kFan;  // at least one level above the leaves
    for (;;) {
      const size_t padded = (n + kFan - 1) / kFan * kFan;
      sizes_.push_back(padded);
      if (padded == kFan) break;
      n = padded / kFan;
    }
    sum_.clear();
    min_.clear();
    used_ = 0;
    for (size_t l = 0; l < sizes_.size(); ++l) {
      sum_.push_back(Alloc(sizes_[l], 0.0));
      min_.push_back(l == 0 ? Buffer() : Alloc(sizes_[l], std::numeric_limits<double>::infinity()));
    }
  }
  bool Allocated() const { return !sizes_.empty(); }

  /// Sets leaves [first, first + count) to p, then recomputes the touched ancestors level by
  /// level, each once: a batch insert of contiguous rows costs ~count/7 node updates.
  void SetRange(size_t first, size_t count, double p) {
    if (count == 0) return;
    double* leaf = sum_[0].get();
    for (size_t i = first; i < first + count; ++i) leaf[i] = p;
    if (first + count > used_) used_ = first + count;
    size_t lo = first, hi = first + count - 1;  // inclusive
    for (size_t l = 1; l < sizes_.size(); ++l) {
      lo >>= kShift;
      hi >>= kShift;
      for (size_t i = lo; i <= hi; ++i) Recompute(l, i);
    }
  }

  /// Sets many leaves, then recomputes the touched ancestors level by level (later duplicates
  /// win). Rows must already be set once (rows < the number of leaves used).
  template <class Leaf>
  void SetMany(const int32_t* rows, size_t count, Leaf&& leaf) {
    double* leaves = sum_[0].get();
    for (size_t b = 0; b < count; ++b) leaves[rows[b]] = leaf(b);
    constexpr size_t kAhead = 8;
    for (size_t l = 1; l < sizes_.size(); ++l) {
      const size_t shift = kShift * l;
      if (sizes_[l] <= 2 * count) {
        // A small level (near the root): sweeping its used nodes in order is cheaper than
        // recomputing a node per row, and gives the same values (a node is a function of its children).
        const size_t hi = (used_ - 1) >> shift;
        for (size_t i = 0; i <= hi; ++i) Recompute(l, i);
        continue;
      }
      const double* child_sum = sum_[l - 1].get();
      const double* child_min = l == 1 ? child_sum : min_[l - 1].get();
      size_t prev = SIZE_MAX;  // consecutive rows share parents: recompute once
      for (size_t b = 0; b < count; ++b) {
        if (b + kAhead < count) {
          const size_t ahead = (static_cast<size_t>(rows[b + kAhead]) >> shift) * kFan;
          __builtin_prefetch(child_sum + ahead);
          __builtin_prefetch(child_min + ahead);
        }
        const size_t node = static_cast<size_t>(rows[b]) >> shift;
        if (node != prev) Recompute(l, node);
        prev = node;
      }
    }
  }

  /// Recomputes every inner node over leaves [0, used) after those leaves were written raw
  /// (nodes past them keep their initial 0 / +inf).
  void Rebuild(size_t used) {
    used_ = used;
    if (used == 0) return;
    size_t hi = used - 1;
    for (size_t l = 1; l < sizes_.size(); ++l) {
      hi >>= kShift;
      for (size_t i = 0; i <= hi; ++i) Recompute(l, i);
    }
  }
  double* Leaves() { return sum_[0].get(); }

  double Get(size_t i) const { return sum_[0].get()[i]; }
  double Total() const { return Root(sum_.back().get(), false); }
  double Min() const { return Root(min_.back().get(), true); }

  /// For each mass m_k in [0, Total()), the leaf whose prefix-sum interval contains it; calls
  /// on_leaf(k, leaf) as soon as each is known (to prefetch what the caller reads next).
  /// Descends a group of samples together, one level at a time: each step prefetches the node
  /// it moves to, which is read only after the rest of the group has stepped, so the group's
  /// cache misses overlap instead of adding up.
  template <class OnLeaf>
  void FindMany(const double* mass_in, size_t count, size_t* leaf_out, OnLeaf&& on_leaf) const {
    constexpr size_t kGroup = 32;
    double mass[kGroup];
    size_t node[kGroup];
    const size_t top = sizes_.size() - 1;
    for (size_t g0 = 0; g0 < count; g0 += kGroup) {
      const size_t G = count - g0 < kGroup ? count - g0 : kGroup;
      for (size_t g = 0; g < G; ++g) {
        mass[g] = mass_in[g0 + g];
        node[g] = 0;
      }
      for (size_t l = top + 1; l-- > 0;) {
        const double* level = sum_[l].get();
        const double* below = l > 0 ? sum_[l - 1].get() : nullptr;
        for (size_t g = 0; g < G; ++g) {
          // Branch-free: j = #{1 <= k < 8 : m >= c_0 + ... + c_{k-1}}, then m -= c_0 + ... + c_{j-1}.
          const double* c = level + node[g] * kFan;
          double prefix[kFan + 1];
          prefix[0] = 0.0;
          for (size_t k = 0; k < kFan; ++k) prefix[k + 1] = prefix[k] + c[k];
          const double m = mass[g];
          size_t j = 0;
          for (size_t k = 1; k < kFan; ++k) j += m >= prefix[k] ? 1 : 0;
          mass[g] = m - prefix[j];
          node[g] = node[g] * kFan + j;
          if (below) {
            __builtin_prefetch(below + node[g] * kFan);
          } else {
            on_leaf(g0 + g, node[g]);
          }
        }
      }
      for (size_t g = 0; g < G; ++g) leaf_out[g0 + g] = node[g];
    }
  }

 private:
  using Buffer = std::unique_ptr<double, FreeDeleter>;

  static Buffer Alloc(size_t n, double fill) {
    auto* d = static_cast<double*>(HugeAlloc(n * sizeof(double)));
    if (fill != 0.0) {
      for (size_t i = 0; i < n; ++i) d[i] = fill;
    }
    return Buffer(d);
  }

  void Recompute(size_t l, size_t i) {
    const double* cs = sum_[l - 1].get() + i * kFan;
    double s = cs[0];
    for (size_t j = 1; j < kFan; ++j) s += cs[j];
    double m;
    if (l > 1) {
      const double* cm = min_[l - 1].get() + i * kFan;
      m = cm[0];
      for (size_t j = 1; j < kFan; ++j) m = cm[j] < m ? cm[j] : m;
    } else if ((i + 1) * kFan <= used_) {
      m = cs[0];
      for (size_t j = 1; j < kFan; ++j) m = cs[j] < m ? cs[j] : m;
    } else {  // the node holding the first leaf never set: those leaves are +inf for the minimum
      m = std::numeric_limits<double>::infinity();
      for (size_t j = 0; i * kFan + j < used_; ++j) m = cs[j] < m ? cs[j] : m;
    }
    sum_[l].get()[i] = s;
    min_[l].get()[i] = m;
  }

  static double Root(const double* top, bool min) {
    double r = top[0];
    for (size_t j = 1; j < kFan; ++j) r = min ? (top[j] < r ? top[j] : r) : r + top[j];
    return r;
  }

  std::vector<size_t> sizes_;  // nodes per level, leaves first; the last level has kFan nodes
  std::vector<Buffer> sum_, min_;  // min_[0] is empty: the minimum's leaves are sum_[0]
  size_t used_ = 0;                // leaves [0, used_) have been set (the ring fills in order)
};

}  // namespace rlcore::replay
