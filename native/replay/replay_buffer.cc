#include "replay_buffer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "../core/rng.h"
#include "../core/thread_pool.h"
#include "fast_pow.h"

namespace rlcore::replay {
namespace {

// Field copies are a few bytes each: inline fixed-size copies instead of a libc memcpy call.
inline void CopyField(uint8_t* dst, const uint8_t* src, size_t n) {
  switch (n) {
    case 1: *dst = *src; return;
    case 4: std::memcpy(dst, src, 4); return;
    case 8: std::memcpy(dst, src, 8); return;
    case 12: std::memcpy(dst, src, 12); return;
    case 16: std::memcpy(dst, src, 16); return;
    default: std::memcpy(dst, src, n);
  }
}

// Copies one field of `n` consecutive rows into `n` consecutive records (`stride` bytes apart),
// with the size fixed per loop.
inline void CopyColumn(uint8_t* dst, size_t stride, const uint8_t* src, size_t rb, size_t n) {
  switch (rb) {
    case 1:
      for (size_t k = 0; k < n; ++k) dst[k * stride] = src[k];
      return;
    case 4:
      for (size_t k = 0; k < n; ++k) std::memcpy(dst + k * stride, src + k * 4, 4);
      return;
    case 8:
      for (size_t k = 0; k < n; ++k) std::memcpy(dst + k * stride, src + k * 8, 8);
      return;
    case 12:
      for (size_t k = 0; k < n; ++k) std::memcpy(dst + k * stride, src + k * 12, 12);
      return;
    case 16:
      for (size_t k = 0; k < n; ++k) std::memcpy(dst + k * stride, src + k * 16, 16);
      return;
    default:
      for (size_t k = 0; k < n; ++k) std::memcpy(dst + k * stride, src + k * rb, rb);
  }
}

}  // namespace

ReplayBuffer::ReplayBuffer(size_t capacity, std::vector<Field> fields, size_t num_envs, bool prioritized,
                           double alpha, double eps, uint64_t seed, bool on_device)
    : capacity_(capacity),
      fields_(std::move(fields)),
      num_envs_(num_envs),
      prioritized_(prioritized),
      alpha_(alpha),
      eps_(eps),
      seed_(seed),
      last_(num_envs, -1),
      ep_start_(num_envs, -1),
      ep_len_(num_envs, 0),
      ep_return_(num_envs, 0.0),
      on_device_(on_device) {
  size_t off = sizeof(int64_t);
  for (Field& f : fields_) {
    f.offset = off;
    off += f.RowBytes();
  }
  // A record of at most a line is padded to a power of two, so no record straddles two lines
  // (records start line-aligned): a random gather then misses one line instead of two.
  record_bytes_ = (off + 7) / 8 * 8;
  if (record_bytes_ <= 64) {
    size_t pow2 = 8;
    while (pow2 < record_bytes_) pow2 *= 2;
    record_bytes_ = pow2;
  }
}

// Memory is taken once, at the first insert, so that declaring a 10M buffer costs nothing until used.
void ReplayBuffer::Allocate() {
  if (allocated_) return;
  if (on_device_) {
    AllocateDevice();
    allocated_ = true;
    return;
  }
  records_.reset(static_cast<uint8_t*>(HugeAlloc(capacity_ * record_bytes_)));
  if (prioritized_) tree_.Allocate(capacity_);
  allocated_ = true;
}

void ReplayBuffer::Release() {
  records_.reset();
  device_.reset();
  tree_ = PriorityTree();
  episodes_.clear();
  closed_ = true;
}


void ReplayBuffer::Add(const InsertBatch& batch) {
  for (size_t i = 0; i < batch.rows; ++i) {
    const int64_t e = batch.env_ids ? batch.env_ids[i] : static_cast<int64_t>(i);
    if (e < 0 || static_cast<size_t>(e) >= num_envs_) {
      std::ostringstream msg;
      msg << "replayAdd: env id of row " << i << " must be in [0, " << num_envs_ << "); received " << e;
      throw ReplayError("ERR_RANGE", msg.str());
    }
  }
  Allocate();
  const size_t first_slot = static_cast<size_t>(total_ % capacity_);
  // In parts of at most `capacity` rows, so that a part's rows land in distinct slots.
  for (size_t i0 = 0; i0 < batch.rows; i0 += capacity_) {
    const size_t i1 = batch.rows - i0 < capacity_ ? batch.rows : i0 + capacity_;
    AddPart(batch, i0, i1);
  }
  if (prioritized_) {
    // The rows written are the ring's slots from first_slot on (wrapping once at most, or all).
    const double leaf = Pow(max_priority_, alpha_);  // max_priority_ includes ε
    const size_t n = batch.rows < capacity_ ? batch.rows : capacity_;
    const size_t head = n < capacity_ - first_slot ? n : capacity_ - first_slot;
    if (device_) {
      SetRangeDevice(first_slot, head, leaf);
      SetRangeDevice(0, n - head, leaf);
    } else {
      tree_.SetRange(first_slot, head, leaf);
      tree_.SetRange(0, n - head, leaf);
    }
  }
  // Drop finished episodes whose first step has been overwritten (oldest-ending first).
  const int64_t oldest = static_cast<int64_t>(total_) - static_cast<int64_t>(capacity_);
  while (!episodes_.empty() && episodes_.front().start < oldest) episodes_.pop_front();
}

// Rows [i0, i1) (at most `capacity`) at absolute positions total_ + (i - i0). Three passes, with
// the same result as inserting row by row: (1) episode bookkeeping and which earlier step each
// row links from, read before anything is overwritten; (2) the records, field by field (a tight
// copy loop per field instead of a per-row dispatch over fields); (3) the links.
void ReplayBuffer::AddPart(const InsertBatch& batch, size_t i0, size_t i1) {
  const size_t n = i1 - i0;
  const int64_t base = static_cast<int64_t>(total_), cap = static_cast<int64_t>(capacity_);
  const uint8_t* term = batch.fields[kTerminated];
  const uint8_t* trunc = batch.fields[kTruncated];
  links_.resize(n);
  for (size_t i = i0; i < i1; ++i) {
    const size_t e = batch.env_ids ? static_cast<size_t>(batch.env_ids[i]) : i;
    const int64_t p = base + static_cast<int64_t>(i - i0);
    const bool done = term[i] != 0 || trunc[i] != 0;
    // Link the env's previous step to this one if it is still stored and did not end its episode
    // (a previous step of this part is read from the input, an older one from its record).
    const int64_t prev = last_[e];
    int64_t link = -1;
    if (prev >= 0 && prev + cap > p && ep_start_[e] >= 0) {
      const size_t j = i0 + static_cast<size_t>(prev - base);
      // (An older step's record is on the device for a device buffer; it did not end an episode,
      // or ep_start_[e] would be -1, so its flags need not be read.)
      const bool prev_done = prev >= base ? (term[j] != 0 || trunc[j] != 0)
                                          : (device_ ? false : Done(static_cast<size_t>(prev % cap)));
      if (!prev_done) link = prev;
    }
    links_[i - i0] = link;
    if (ep_start_[e] < 0) {
      ep_start_[e] = p;
      ep_len_[e] = 0;
      ep_return_[e] = 0.0;
    }
    float r;
    std::memcpy(&r, batch.fields[kReward] + i * 4, 4);
    ep_return_[e] += r;
    ep_len_[e] += 1;
    last_[e] = p;
    if (done) {
      episodes_.push_back(Episode{ep_start_[e], ep_len_[e], ep_return_[e]});
      ep_start_[e] = -1;
    }
  }
  if (device_) {
    AddPartDevice(batch, i0, n);
    total_ += n;
    return;
  }
  // The part's slots: [first, first + head) then [0, n - head).
  const size_t first = static_cast<size_t>(base % cap);
  const size_t head = n < capacity_ - first ? n : capacity_ - first;
  const size_t seg_slot[2] = {first, 0}, seg_row[2] = {i0, i0 + head}, seg_len[2] = {head, n - head};
  for (int s = 0; s < 2; ++s) {
    if (seg_len[s] == 0) continue;
    uint8_t* rec0 = Rec(seg_slot[s]);
    const size_t len = seg_len[s], row = seg_row[s];
    for (size_t k = 0; k < len; ++k) SetNext(seg_slot[s] + k, -1);
    for (size_t f = 0; f < fields_.size(); ++f) {
      const size_t rb = fields_[f].RowBytes();
      CopyColumn(rec0 + fields_[f].offset, record_bytes_, batch.fields[f] + row * rb, rb, len);
    }
    if (batch.final_obs) {
      const size_t ob = fields_[kNextObs].RowBytes();
      for (size_t k = 0; k < len; ++k) {
        const size_t i = row + k;
        if (term[i] != 0 || trunc[i] != 0) {
          std::memcpy(rec0 + k * record_bytes_ + fields_[kNextObs].offset, batch.final_obs + i * ob, ob);
        }
      }
    }
  }
  // A link into a slot this part reused is dropped: that slot now holds a later step.
  const int64_t last = base + static_cast<int64_t>(n) - 1;
  for (size_t k = 0; k < n; ++k) {
    const int64_t link = links_[k];
    if (link >= 0 && link + cap > last) SetNext(static_cast<size_t>(link % cap), base + static_cast<int64_t>(k));
  }
  total_ += n;
}

void ReplayBuffer::Sample(size_t batch, bool uniform, double beta, int32_t* rows, float* weights) {
  const size_t size = Size();
  if (size == 0) throw ReplayError("ERR_RANGE", "replaySample: the buffer is empty");
  const uint64_t call = calls_++;
  const uint64_t seed = seed_;
  if (device_) return SampleDevice(batch, uniform, beta, call, rows, weights);
  if (uniform || !prioritized_) {
    ParallelFor(batch, 4096, [&](size_t b0, size_t b1) {
      for (size_t b = b0; b < b1; ++b) {
        RandomStream rs(seed, call, b);
        rows[b] = static_cast<int32_t>(rs.Below(static_cast<uint32_t>(size)));
        if (weights) weights[b] = 1.0f;
      }
    });
    return;
  }
  const double total = tree_.Total(), min = tree_.Min();
  ParallelFor(batch, 1024, [&](size_t b0, size_t b1) {
    constexpr size_t kChunk = 256;
    double mass[kChunk];
    size_t leaf[kChunk];
    for (size_t c0 = b0; c0 < b1; c0 += kChunk) {
      const size_t n = b1 - c0 < kChunk ? b1 - c0 : kChunk;
      for (size_t k = 0; k < n; ++k) {
        const Philox4 x = Philox(seed, c0 + k, call);
        mass[k] = UniformDouble(x.v[0], x.v[1]) * total;
      }
      // Prefetch each sampled row's record as soon as it is found: the caller gathers them next.
      tree_.FindMany(mass, n, leaf, [&](size_t, size_t i) { __builtin_prefetch(Rec(i < size ? i : size - 1)); });
      for (size_t k = 0; k < n; ++k) {
        const size_t i = leaf[k] < size ? leaf[k] : size - 1;  // rounding at the right edge
        rows[c0 + k] = static_cast<int32_t>(i);
        mass[k] = tree_.Get(i) / min;  // reuse: p_i / p_min
      }
      if (!weights) continue;
      // w_i = (N P(i))^-β / max_j (N P(j))^-β = (p_i / p_min)^-β
      double w[kChunk];
      PowMany(mass, -beta, n, w);
      for (size_t k = 0; k < n; ++k) weights[c0 + k] = static_cast<float>(w[k]);
    }
  });
}

double ReplayBuffer::PrioritySum() const {
  if (device_) {
    double total = 0.0, min = 0.0;
    if (prioritized_) RootsDevice(&total, &min);
    return total;
  }
  return tree_.Allocated() ? tree_.Total() : 0.0;
}

double ReplayBuffer::PriorityMin() const {
  if (device_) {
    double total = 0.0, min = 0.0;
    if (prioritized_) RootsDevice(&total, &min);
    return min;
  }
  return tree_.Allocated() ? tree_.Min() : 0.0;
}

void ReplayBuffer::Priorities(const int32_t* rows, size_t count, double* out) const {
  if (device_) return LeavesDevice(rows, count, out);
  for (size_t i = 0; i < count; ++i) out[i] = tree_.Get(static_cast<size_t>(rows[i]));
}

void ReplayBuffer::CheckRows(const int32_t* rows, size_t count, bool allow_missing, const char* what) const {
  const int64_t size = static_cast<int64_t>(Size());
  for (size_t b = 0; b < count; ++b) {
    const int64_t r = rows[b];
    if ((r < 0 && !(allow_missing && r == -1)) || r >= size) {
      std::ostringstream msg;
      msg << what << ": index " << b << " is " << r << "; must be in [" << (allow_missing ? -1 : 0) << ", " << size
          << ") (the rows stored)";
      throw ReplayError("ERR_RANGE", msg.str());
    }
  }
}

void ReplayBuffer::Gather(const int32_t* rows, size_t count, const std::vector<uint8_t*>& outs, size_t n,
                          double gamma, float* discounts) const {
  CheckRows(rows, count, true, "replayGather");
  if (device_) return GatherDevice(rows, count, outs, n, gamma, discounts);
  ParallelFor(count, 1024, [&](size_t b0, size_t b1) {
    // Rows are random: keep ~32 record fetches in flight (a record spans at most two lines).
    constexpr size_t kAhead = 32;
    const size_t last_line = record_bytes_ - 1;
    for (size_t b = b0; b < b0 + kAhead && b < b1; ++b) {
      if (rows[b] >= 0) {
        __builtin_prefetch(Rec(static_cast<size_t>(rows[b])));
        __builtin_prefetch(Rec(static_cast<size_t>(rows[b])) + last_line);
      }
    }
    for (size_t b = b0; b < b1; ++b) {
      if (b + kAhead < b1 && rows[b + kAhead] >= 0) {
        __builtin_prefetch(Rec(static_cast<size_t>(rows[b + kAhead])));
        __builtin_prefetch(Rec(static_cast<size_t>(rows[b + kAhead])) + last_line);
      }
      const int32_t r = rows[b];
      if (r < 0) {
        for (size_t f = 0; f < fields_.size(); ++f) {
          if (outs[f]) std::memset(outs[f] + b * fields_[f].RowBytes(), 0, fields_[f].RowBytes());
        }
        if (discounts) discounts[b] = 0.0f;
        continue;
      }
      // n-step: G = Σ_{k<m} γ^k r_{t+k}, following the env's own next steps, stopping at the
      // episode's end or at the newest stored step; bootstrap from s_{t+m} with γ^m.
      size_t cur = static_cast<size_t>(r);
      double G = 0.0, d = 1.0;
      for (size_t k = 0;;) {
        float rw;
        std::memcpy(&rw, Rec(cur) + fields_[kReward].offset, 4);
        G += d * rw;
        d *= gamma;
        if (++k >= n || Done(cur) || Next(cur) < 0) break;
        cur = static_cast<size_t>(Next(cur) % static_cast<int64_t>(capacity_));
      }
      for (size_t f = 0; f < fields_.size(); ++f) {
        if (!outs[f]) continue;
        const size_t rb = fields_[f].RowBytes();
        const bool from_last = f == kNextObs || f == kTerminated || f == kTruncated;
        if (f == kReward) {
          const float g = static_cast<float>(G);
          std::memcpy(outs[f] + b * 4, &g, 4);
        } else {
          CopyField(outs[f] + b * rb, Rec(from_last ? cur : static_cast<size_t>(r)) + fields_[f].offset, rb);
        }
      }
      if (discounts) discounts[b] = static_cast<float>(d);
    }
  });
}

void ReplayBuffer::UpdatePriorities(const int32_t* rows, const float* priorities, size_t count) {
  if (!prioritized_) throw ReplayError("ERR_ARG", "replayUpdatePriorities: the buffer is not prioritized");
  CheckRows(rows, count, false, "replayUpdatePriorities");
  for (size_t b = 0; b < count; ++b) {
    const float p = priorities[b];
    if (!(p >= 0.0f) || !std::isfinite(p)) {
      std::ostringstream msg;
      msg << "replayUpdatePriorities: priorities[" << b << "] must be finite and >= 0; received " << p;
      throw ReplayError("ERR_RANGE", msg.str());
    }
  }
  // Leaves (p + ε)^α, computed together (vectorised) before the tree walk.
  scratch_.resize(2 * count);
  double* raw = scratch_.data();
  double* leaf = raw + count;
  for (size_t b = 0; b < count; ++b) raw[b] = static_cast<double>(priorities[b]) + eps_;
  PowMany(raw, alpha_, count, leaf);
  if (device_) {
    SetManyDevice(rows, leaf, count);
  } else {
    tree_.SetMany(rows, count, [leaf](size_t b) { return leaf[b]; });
  }
  for (size_t b = 0; b < count; ++b) {
    const double raw = priorities[b];
    if (raw + eps_ > max_priority_) max_priority_ = raw + eps_;
  }
}

size_t ReplayBuffer::Window(size_t start, size_t length, int32_t* rows) const {
  size_t cur = start, k = 1;
  rows[0] = static_cast<int32_t>(start);
  for (; k < length; ++k) {
    if (Done(cur) || Next(cur) < 0) break;
    cur = static_cast<size_t>(Next(cur) % static_cast<int64_t>(capacity_));
    rows[k] = static_cast<int32_t>(cur);
  }
  for (size_t j = k; j < length; ++j) rows[j] = -1;
  return k;
}

void ReplayBuffer::Follow(const int32_t* starts, size_t batch, size_t length, int32_t* rows, uint8_t* mask) const {
  if (on_device_) CpuOnly("replayFollow");
  CheckRows(starts, batch, false, "replayFollow");
  for (size_t b = 0; b < batch; ++b) {
    const size_t k = Window(static_cast<size_t>(starts[b]), length, rows + b * length);
    for (size_t j = 0; j < length; ++j) mask[b * length + j] = j < k ? 1 : 0;
  }
}

void ReplayBuffer::SampleSequences(size_t batch, size_t length, bool masked, int32_t* rows, uint8_t* mask) {
  const size_t size = Size();
  if (on_device_) CpuOnly("replaySampleSequences");
  if (size == 0) throw ReplayError("ERR_RANGE", "replaySampleSequences: the buffer is empty");
  const uint64_t call = calls_++;
  // Strict windows are drawn by rejection; draw into scratch so a failure writes nothing.
  constexpr size_t kTries = 256;
  std::vector<int32_t> scratch(batch * length);
  std::vector<size_t> valid(batch);
  for (size_t b = 0; b < batch; ++b) {
    RandomStream rs(seed_, call, b * (kTries / 4));
    size_t k = 0;
    for (size_t t = 0; t < kTries; ++t) {
      k = Window(rs.Below(static_cast<uint32_t>(size)), length, scratch.data() + b * length);
      if (masked || k == length) break;
    }
    if (!masked && k < length) {
      std::ostringstream msg;
      msg << "replaySampleSequences: found no window of " << length
          << " steps inside one episode in 256 draws; use a shorter length or masked windows";
      throw ReplayError("ERR_RANGE", msg.str());
    }
    valid[b] = k;
  }
  std::memcpy(rows, scratch.data(), scratch.size() * sizeof(int32_t));
  for (size_t b = 0; b < batch; ++b) {
    for (size_t j = 0; j < length; ++j) mask[b * length + j] = j < valid[b] ? 1 : 0;
  }
}

void ReplayBuffer::SampleEpisodes(size_t batch, double temperature, int32_t* starts, int32_t* lengths,
                                  float* returns) {
  const int64_t oldest = static_cast<int64_t>(total_) - static_cast<int64_t>(capacity_);
  std::vector<const Episode*> eps;
  for (const Episode& e : episodes_) {
    if (e.start >= oldest) eps.push_back(&e);
  }
  if (eps.empty()) throw ReplayError("ERR_RANGE", "replaySampleEpisodes: no finished episode is stored");
  const uint64_t call = calls_++;
  // Softmax over returns, shifted by the maximum so that the exponentials cannot overflow.
  double top = eps[0]->ret;
  for (const Episode* e : eps) top = std::max(top, e->ret);
  std::vector<double> cum(eps.size());
  double acc = 0.0;
  for (size_t i = 0; i < eps.size(); ++i) {
    acc += std::exp((eps[i]->ret - top) / temperature);
    cum[i] = acc;
  }
  for (size_t b = 0; b < batch; ++b) {
    const Philox4 x = Philox(seed_, b, call);
    const double mass = UniformDouble(x.v[0], x.v[1]) * acc;
    size_t i = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), mass) - cum.begin());
    if (i >= eps.size()) i = eps.size() - 1;
    starts[b] = static_cast<int32_t>(eps[i]->start % static_cast<int64_t>(capacity_));
    lengths[b] = static_cast<int32_t>(eps[i]->length);
    returns[b] = static_cast<float>(eps[i]->ret);
  }
}

}  // namespace rlcore::replay
