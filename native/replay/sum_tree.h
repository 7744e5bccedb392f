// Sum tree and min tree over priorities for proportional prioritized replay (Schaul et al. 2016,
// "Prioritized Experience Replay", arXiv:1511.05952, appendix B.2.1). Leaves hold p_i^α; an
// inner node holds the sum (and the minimum) of its children, always recomputed from them in a
// fixed order, so the tree is a deterministic function of its leaves (a reloaded buffer rebuilds
// it bit for bit). Sums are float64: at 10M leaves float32 would lose small priorities.
//
// The tree is 8-ary with each node's 8 children in one 64-byte cache line: a descent at 1M
// leaves touches 7 lines instead of 20, and a batch of descents runs level by level with the
// next lines prefetched, so the memory latency of independent samples overlaps.
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

  /// An empty tree over `capacity` leaves (unused leaves are 0 for the sum, +inf for the min).
  void Allocate(size_t capacity) {
    sizes_.clear();
    size_t n = capacity;
    for (;;) {
      const size_t padded = (n + kFan - 1) / kFan * kFan;
      sizes_.push_back(padded);
      if (padded == kFan) break;
      n = padded / kFan;
    }
    sum_.clear();
    min_.clear();
    for (size_t s : sizes_) {
      sum_.push_back(Alloc(s, 0.0));
      min_.push_back(Alloc(s, std::numeric_limits<double>::infinity()));
    }
  }
  bool Allocated() const { return !sizes_.empty(); }

  /// Sets leaf i to p (>= 0) and recomputes its ancestors.
  void Set(size_t i, double p) {
    sum_[0].get()[i] = p;
    min_[0].get()[i] = p;
    for (size_t l = 1; l < sizes_.size(); ++l) {
      i /= kFan;
      Recompute(l, i);
    }
  }

  /// Sets many leaves, then recomputes the touched ancestors level by level (later duplicates win).
  template <class Leaf>
  void SetMany(const int32_t* rows, size_t count, Leaf&& leaf) {
    for (size_t b = 0; b < count; ++b) {
      const double p = leaf(b);
      sum_[0].get()[rows[b]] = p;
      min_[0].get()[rows[b]] = p;
    }
    size_t div = 1;
    for (size_t l = 1; l < sizes_.size(); ++l) {
      div *= kFan;
      size_t prev = SIZE_MAX;  // consecutive rows (a batch insert) share parents: recompute once
      for (size_t b = 0; b < count; ++b) {
        if (b + 8 < count) __builtin_prefetch(sum_[l - 1].get() + static_cast<size_t>(rows[b + 8]) / div * kFan);
        const size_t node = static_cast<size_t>(rows[b]) / div;
        if (node != prev) Recompute(l, node);
        prev = node;
      }
    }
  }

  double Get(size_t i) const { return sum_[0].get()[i]; }
  double Total() const { return Root(sum_.back().get(), false); }
  double Min() const { return Root(min_.back().get(), true); }

  /// For each mass m_k in [0, Total()), the leaf whose prefix-sum interval contains it.
  /// Descends `count` samples together, one level at a time, prefetching the next level.
  void FindMany(const double* mass_in, size_t count, size_t* leaf_out) const {
    constexpr size_t kGroup = 32;
    double mass[kGroup];
    size_t node[kGroup];
    for (size_t g0 = 0; g0 < count; g0 += kGroup) {
      const size_t G = count - g0 < kGroup ? count - g0 : kGroup;
      for (size_t g = 0; g < G; ++g) {
        mass[g] = mass_in[g0 + g];
        node[g] = 0;
      }
      for (size_t l = sizes_.size(); l-- > 0;) {
        const double* level = sum_[l].get();
        for (size_t g = 0; g < G; ++g) __builtin_prefetch(level + node[g] * kFan);
        for (size_t g = 0; g < G; ++g) {
          // Branch-free: j = #{k < 7 : m >= c_0 + ... + c_k}, then m -= c_0 + ... + c_{j-1}.
          const double* c = level + node[g] * kFan;
          double prefix[kFan + 1];
          prefix[0] = 0.0;
          for (size_t k = 0; k < kFan; ++k) prefix[k + 1] = prefix[k] + c[k];
          const double m = mass[g];
          size_t j = 0;
          for (size_t k = 1; k < kFan; ++k) j += m >= prefix[k] ? 1 : 0;
          mass[g] = m - prefix[j];
          node[g] = node[g] * kFan + j;
        }
      }
      for (size_t g = 0; g < G; ++g) leaf_out[g0 + g] = node[g];
    }
  }

 private:
  using Buffer = std::unique_ptr<double, FreeDeleter>;

  static Buffer Alloc(size_t n, double fill) {
    auto* d = static_cast<double*>(HugeAlloc(n * sizeof(double)));
    for (size_t i = 0; i < n; ++i) d[i] = fill;
    return Buffer(d);
  }

  void Recompute(size_t l, size_t i) {
    const double* cs = sum_[l - 1].get() + i * kFan;
    const double* cm = min_[l - 1].get() + i * kFan;
    double s = cs[0], m = cm[0];
    for (size_t j = 1; j < kFan; ++j) {
      s += cs[j];
      m = cm[j] < m ? cm[j] : m;
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
  std::vector<Buffer> sum_, min_;
};

}  // namespace rlcore::replay
