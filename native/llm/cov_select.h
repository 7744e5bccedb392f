// The selection steps of Clip-Cov and KL-Cov (Cui et al. 2025, arXiv:2505.22617), shared by the
// CPU kernel (policy_loss.cc) and the CUDA path's host side (cuda/policy_loss.cu), so that both
// select the same tokens.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "../core/rng.h"

namespace rlcore {

/// Clip-Cov: min(k, |cand|) candidates chosen by a partial Fisher–Yates shuffle of `cand` (in
/// index order on entry) on the seeded Philox stream (seed, 0); sets sel[i] = 1 for each and
/// returns how many.
inline size_t PickRandomCandidates(std::vector<size_t>& cand, size_t k, uint64_t seed, uint8_t* sel) {
  const size_t take = std::min(k, cand.size());
  RandomStream rs(seed, 0);
  for (size_t i = 0; i < take; ++i) {
    const size_t j = i + rs.Below(static_cast<uint32_t>(cand.size() - i));
    std::swap(cand[i], cand[j]);
    sel[cand[i]] = 1;
  }
  return take;
}

/// KL-Cov: the k largest key(i) over i in [0, n) with mask[i] (ties: lower index first), by one
/// scan with a min-heap of the best k (O(n log k)); sets sel[i] = 1 for each and returns how many.
template <class Key>
size_t PickLargest(size_t n, size_t k, const uint8_t* mask, const Key& key, uint8_t* sel) {
  using Item = std::pair<double, size_t>;
  auto better = [](const Item& a, const Item& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::vector<Item> heap;
  heap.reserve(k);
  for (size_t i = 0; i < n; ++i) {
    if (mask && !mask[i]) continue;
    const Item it{key(i), i};
    if (heap.size() < k) {
      heap.push_back(it);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(it, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = it;
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  for (const Item& it : heap) sel[it.second] = 1;
  return heap.size();
}

}  // namespace rlcore
