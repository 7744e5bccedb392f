// Sum tree and min tree over priorities for proportional prioritized replay (Schaul et al. 2016,
// "Prioritized Experience Replay", arXiv:1511.05952, appendix B.2.1). Leaves hold p_i^α; an
// inner node holds the sum (and the minimum) of its two children, always recomputed from them,
// so the whole tree is a deterministic function of its leaves (a reloaded buffer rebuilds it
// bit for bit). Sums are float64: at 10M leaves float32 would lose small priorities entirely.
#pragma once
#include <cstddef>
#include <limits>
#include <vector>

namespace rlcore::replay {

class PriorityTree {
 public:
  /// An empty tree over `capacity` leaves (rounded up to a power of two; unused leaves are 0 / +inf).
  void Allocate(size_t capacity) {
    leaves_ = 1;
    while (leaves_ < capacity) leaves_ <<= 1;
    sum_.assign(2 * leaves_, 0.0);
    min_.assign(2 * leaves_, std::numeric_limits<double>::infinity());
  }
  bool Allocated() const { return leaves_ != 0; }

  /// Sets leaf i to p (>= 0) and recomputes its ancestors: O(log capacity).
  void Set(size_t i, double p) {
    size_t k = i + leaves_;
    sum_[k] = p;
    min_[k] = p;
    for (k >>= 1; k >= 1; k >>= 1) {
      sum_[k] = sum_[2 * k] + sum_[2 * k + 1];
      const double a = min_[2 * k], b = min_[2 * k + 1];
      min_[k] = a < b ? a : b;
    }
  }
  double Get(size_t i) const { return sum_[i + leaves_]; }
  double Total() const { return sum_[1]; }
  double Min() const { return min_[1]; }

  /// The leaf whose prefix-sum interval contains `mass` in [0, Total()): descends from the root.
  size_t Find(double mass) const {
    size_t k = 1;
    while (k < leaves_) {
      const double left = sum_[2 * k];
      if (mass < left) {
        k = 2 * k;
      } else {
        mass -= left;
        k = 2 * k + 1;
      }
    }
    return k - leaves_;
  }

 private:
  size_t leaves_ = 0;
  std::vector<double> sum_, min_;
};

}  // namespace rlcore::replay
