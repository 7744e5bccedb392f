// The device side of ReplayBuffer (a buffer created with device 'cuda'): rows, links and the
// priority tree live in a cuda::ReplayStore (cuda/replay.cu); this file turns the buffer's calls
// into store calls after the checks and the episode bookkeeping shared with the CPU path
// (replay_buffer.cc). Sampling draws the CPU's rows for the same seed (see cuda/replay.cuh);
// leaves (p + ε)^α and weights (p_i / p_min)^−β use the CPU's PowMany here, so they are the
// CPU's to the bit as well. n-step returns and sequence windows are CPU-only for now.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <sstream>

#include "fast_pow.h"
#include "replay_buffer.h"

namespace rlcore::replay {

void ReplayBuffer::CpuOnly(const char* what) {
  throw ReplayError("ERR_DEVICE", std::string(what) +
                                      ": not available for a replay buffer on device 'cuda' yet (n-step returns and "
                                      "sequence windows run on CPU buffers; use device 'cpu')");
}

#ifdef RLCORE_WITH_CUDA

void ReplayBuffer::AllocateDevice() {
  std::vector<size_t> row_bytes;
  for (const Field& f : fields_) row_bytes.push_back(f.RowBytes());
  device_.reset(cuda::ReplayAlloc(capacity_, row_bytes, prioritized_));
}

// Rows [i0, i0 + n) at absolute positions total_ + k; links_ holds (from AddPart's first pass)
// the earlier step each row links from. As on the CPU: every new row's link is -1 unless a later
// row of the part follows it; an older row still stored gets the new row that follows it.
void ReplayBuffer::AddPartDevice(const InsertBatch& batch, size_t i0, size_t n) {
  const int64_t base = static_cast<int64_t>(total_), cap = static_cast<int64_t>(capacity_);
  const int64_t last = base + static_cast<int64_t>(n) - 1;
  std::vector<int64_t> next(n, -1), old_links;
  for (size_t k = 0; k < n; ++k) {
    const int64_t link = links_[k];
    if (link < 0 || link + cap <= last) continue;  // none, or its slot reused by this part
    if (link >= base) {
      next[static_cast<size_t>(link - base)] = base + static_cast<int64_t>(k);
    } else {
      old_links.push_back(link % cap);
      old_links.push_back(base + static_cast<int64_t>(k));
    }
  }
  cuda::ReplayInsertPart part;
  part.rows = n;
  part.first_slot = static_cast<size_t>(base % cap);
  for (size_t f = 0; f < fields_.size(); ++f) part.fields.push_back(batch.fields[f] + i0 * fields_[f].RowBytes());
  part.final_obs = batch.final_obs ? batch.final_obs + i0 * fields_[kNextObs].RowBytes() : nullptr;
  part.next = next.data();
  part.old_links = old_links.data();
  part.num_old_links = old_links.size() / 2;
  cuda::ReplayInsert(device_.get(), part);
}

void ReplayBuffer::SetRangeDevice(size_t first, size_t count, double leaf) {
  cuda::ReplaySetRange(device_.get(), first, count, leaf);
}

void ReplayBuffer::SampleDevice(size_t batch, bool uniform, double beta, uint64_t call, int32_t* rows,
                                float* weights) {
  if (uniform || !prioritized_) {
    cuda::ReplaySample(device_.get(), seed_, call, Size(), batch, rows, nullptr);
    if (weights) std::fill(weights, weights + batch, 1.0f);
    return;
  }
  // w_i = (N P(i))^-β / max_j (N P(j))^-β = (p_i / p_min)^-β, from the device's p_i / p_min.
  std::vector<double> ratio(batch), w(batch);
  cuda::ReplaySample(device_.get(), seed_, call, Size(), batch, rows, ratio.data());
  if (!weights) return;
  PowMany(ratio.data(), -beta, batch, w.data());
  for (size_t b = 0; b < batch; ++b) weights[b] = static_cast<float>(w[b]);
}

void ReplayBuffer::GatherDevice(const int32_t* rows, size_t count, const std::vector<uint8_t*>& outs, size_t n,
                                double gamma, float* discounts) const {
  if (n > 1) CpuOnly("replayGather with nStep > 1");
  cuda::ReplayGather(device_.get(), rows, count, outs);
  // 1-step: the bootstrap discount is γ (0 for a missing row), as the CPU's d = 1.0 · γ.
  if (discounts) {
    for (size_t b = 0; b < count; ++b) discounts[b] = rows[b] < 0 ? 0.0f : static_cast<float>(gamma);
  }
}

// Later duplicates win, as in PriorityTree::SetMany: keep each row's last leaf, rows sorted, so
// that each tree node is recomputed by one thread.
void ReplayBuffer::SetManyDevice(const int32_t* rows, const double* leaves, size_t count) {
  std::vector<uint32_t> order(count);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [rows](uint32_t a, uint32_t b) { return rows[a] < rows[b]; });
  std::vector<int32_t> r;
  std::vector<double> l;
  r.reserve(count);
  l.reserve(count);
  for (size_t k = 0; k < count; ++k) {
    const uint32_t i = order[k];
    if (k + 1 < count && rows[order[k + 1]] == rows[i]) continue;  // a later duplicate follows
    r.push_back(rows[i]);
    l.push_back(leaves[i]);
  }
  cuda::ReplaySetMany(device_.get(), r.data(), l.data(), r.size());
}

void ReplayBuffer::RootsDevice(double* total, double* min) const { cuda::ReplayRoots(device_.get(), total, min); }

void ReplayBuffer::LeavesDevice(const int32_t* rows, size_t count, double* out) const {
  cuda::ReplayLeaves(device_.get(), rows, count, out);
}

void ReplayBuffer::DownloadDevice(std::vector<std::vector<uint8_t>>& columns, std::vector<int64_t>& next,
                                  std::vector<double>& leaves) const {
  const size_t size = Size();
  std::vector<uint8_t*> cols;
  columns.resize(fields_.size());
  for (size_t f = 0; f < fields_.size(); ++f) {
    columns[f].resize(size * fields_[f].RowBytes());
    cols.push_back(columns[f].data());
  }
  next.resize(size);
  leaves.resize(prioritized_ ? size : 0);
  cuda::ReplayDownload(device_.get(), size, cols, next.data(), prioritized_ ? leaves.data() : nullptr);
}

void ReplayBuffer::UploadDevice(const std::vector<std::vector<uint8_t>>& columns, const std::vector<int64_t>& next,
                                const std::vector<double>& leaves) {
  std::vector<const uint8_t*> cols;
  for (const auto& c : columns) cols.push_back(c.data());
  cuda::ReplayUpload(device_.get(), Size(), cols, next.data(), prioritized_ ? leaves.data() : nullptr);
}

#else  // a build without CUDA never creates a device buffer (replayCreate refuses): unreachable

namespace {
[[noreturn]] void NoCuda() { throw ReplayError("ERR_DEVICE", "replay: this addon was built without CUDA"); }
}  // namespace

void ReplayBuffer::AllocateDevice() { NoCuda(); }
void ReplayBuffer::AddPartDevice(const InsertBatch&, size_t, size_t) { NoCuda(); }
void ReplayBuffer::SetRangeDevice(size_t, size_t, double) { NoCuda(); }
void ReplayBuffer::SampleDevice(size_t, bool, double, uint64_t, int32_t*, float*) { NoCuda(); }
void ReplayBuffer::GatherDevice(const int32_t*, size_t, const std::vector<uint8_t*>&, size_t, double, float*) const {
  NoCuda();
}
void ReplayBuffer::SetManyDevice(const int32_t*, const double*, size_t) { NoCuda(); }
void ReplayBuffer::RootsDevice(double*, double*) const { NoCuda(); }
void ReplayBuffer::LeavesDevice(const int32_t*, size_t, double*) const { NoCuda(); }
void ReplayBuffer::DownloadDevice(std::vector<std::vector<uint8_t>>&, std::vector<int64_t>&,
                                  std::vector<double>&) const {
  NoCuda();
}
void ReplayBuffer::UploadDevice(const std::vector<std::vector<uint8_t>>&, const std::vector<int64_t>&,
                                const std::vector<double>&) {
  NoCuda();
}

#endif

}  // namespace rlcore::replay
