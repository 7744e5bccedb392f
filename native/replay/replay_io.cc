// The buffer as one little-endian byte string: a header (magic, version, configuration, field
// declarations, cursor and RNG position), the per-env episode state, the finished-episode table,
// then the stored rows of every field, the links and the priority leaves, and an end marker.
// The priority tree is rebuilt from its leaves, which reproduces it exactly (see sum_tree.h).
#include <cmath>
#include <cstring>
#include <sstream>

#include "replay_buffer.h"

namespace rlcore::replay {
namespace {

constexpr char kMagic[8] = {'R', 'L', 'R', 'E', 'P', 'L', 'A', 'Y'};
constexpr char kEnd[8] = {'E', 'N', 'D', 'R', 'E', 'P', 'L', 'Y'};
constexpr uint32_t kVersion = 1;

class Writer {
 public:
  std::vector<uint8_t> bytes;
  void Raw(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), c, c + n);
  }
  template <class T>
  void Put(T v) {
    Raw(&v, sizeof(T));
  }
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  void Raw(void* dst, size_t n) {
    if (n > n_ - at_) Fail("the file is truncated");
    std::memcpy(dst, p_ + at_, n);
    at_ += n;
  }
  template <class T>
  T Get() {
    T v;
    Raw(&v, sizeof(T));
    return v;
  }
  [[noreturn]] static void Fail(const std::string& why) {
    throw ReplayError("ERR_IO", "replay buffer file: " + why);
  }
  bool AtEnd() const { return at_ == n_; }

 private:
  const uint8_t* p_;
  size_t n_, at_ = 0;
};

}  // namespace

std::vector<uint8_t> ReplayBuffer::Serialize() const {
  Writer w;
  w.Raw(kMagic, 8);
  w.Put<uint32_t>(kVersion);
  w.Put<uint64_t>(capacity_);
  w.Put<uint64_t>(num_envs_);
  w.Put<uint8_t>(prioritized_ ? 1 : 0);
  w.Put<double>(alpha_);
  w.Put<double>(eps_);
  w.Put<uint64_t>(seed_);
  w.Put<uint64_t>(calls_);
  w.Put<uint64_t>(total_);
  w.Put<double>(max_priority_);
  w.Put<uint32_t>(static_cast<uint32_t>(fields_.size()));
  for (const Field& f : fields_) {
    w.Put<uint32_t>(static_cast<uint32_t>(f.name.size()));
    w.Raw(f.name.data(), f.name.size());
    w.Put<int32_t>(static_cast<int32_t>(f.dtype));
    w.Put<uint64_t>(f.width);
  }
  for (size_t e = 0; e < num_envs_; ++e) {
    w.Put<int64_t>(last_[e]);
    w.Put<int64_t>(ep_start_[e]);
    w.Put<int64_t>(ep_len_[e]);
    w.Put<double>(ep_return_[e]);
  }
  w.Put<uint64_t>(episodes_.size());
  for (const Episode& e : episodes_) {
    w.Put<int64_t>(e.start);
    w.Put<int64_t>(e.length);
    w.Put<double>(e.ret);
  }
  const size_t size = Size();
  if (device_) {  // the same bytes, from the device's columns (a column is a field's rows in order)
    std::vector<std::vector<uint8_t>> columns;
    std::vector<int64_t> next;
    std::vector<double> leaves;
    DownloadDevice(columns, next, leaves);
    for (const auto& c : columns) w.Raw(c.data(), c.size());
    w.Raw(next.data(), next.size() * sizeof(int64_t));
    w.Raw(leaves.data(), leaves.size() * sizeof(double));
    w.Raw(kEnd, 8);
    return std::move(w.bytes);
  }
  // Field by field (the file format does not depend on the in-memory record layout).
  for (const Field& f : fields_) {
    for (size_t i = 0; i < size; ++i) w.Raw(Rec(i) + f.offset, f.RowBytes());
  }
  for (size_t i = 0; i < size; ++i) w.Put<int64_t>(Next(i));
  if (prioritized_) {
    for (size_t i = 0; i < size; ++i) w.Put<double>(tree_.Get(i));
  }
  w.Raw(kEnd, 8);
  return std::move(w.bytes);
}

ReplayBuffer* ReplayBuffer::Deserialize(const uint8_t* bytes, size_t n, bool on_device) {
  Reader r(bytes, n);
  char magic[8];
  r.Raw(magic, 8);
  if (std::memcmp(magic, kMagic, 8) != 0) Reader::Fail("not an rlcore replay buffer (bad magic)");
  const uint32_t version = r.Get<uint32_t>();
  if (version != kVersion) Reader::Fail("unsupported version " + std::to_string(version));
  const uint64_t capacity = r.Get<uint64_t>(), num_envs = r.Get<uint64_t>();
  const bool prioritized = r.Get<uint8_t>() != 0;
  const double alpha = r.Get<double>(), eps = r.Get<double>();
  const uint64_t seed = r.Get<uint64_t>(), calls = r.Get<uint64_t>(), total = r.Get<uint64_t>();
  const double max_priority = r.Get<double>();
  if (capacity < 1 || capacity > (1ull << 31) - 1 || num_envs < 1 || num_envs > (1ull << 24)) {
    Reader::Fail("bad capacity or number of environments");
  }
  if (!(alpha >= 0 && alpha <= 10) || !(eps > 0 && std::isfinite(eps)) || !(max_priority > 0) ||
      !std::isfinite(max_priority) || total > (1ull << 62)) {
    Reader::Fail("bad priority settings or cursor");
  }
  const uint32_t nf = r.Get<uint32_t>();
  if (nf < kFixedFields || nf > 1024) Reader::Fail("bad field count");
  std::vector<Field> fields(nf);
  for (Field& f : fields) {
    const uint32_t len = r.Get<uint32_t>();
    if (len > 1024) Reader::Fail("bad field name");
    f.name.resize(len);
    r.Raw(f.name.data(), len);
    const int32_t dt = r.Get<int32_t>();
    if (dt < 0 || dt > 2) Reader::Fail("bad field dtype");
    f.dtype = static_cast<DType>(dt);
    f.width = r.Get<uint64_t>();
    if (f.width < 1 || f.width > (1u << 24)) Reader::Fail("bad field width");
  }
  // Every fixed field must be what the constructor declares (see replay.cc).
  if (fields[kReward].dtype != DType::kF32 || fields[kReward].width != 1 || fields[kTerminated].dtype != DType::kU8 ||
      fields[kTerminated].width != 1 || fields[kTruncated].dtype != DType::kU8 || fields[kTruncated].width != 1 ||
      fields[kObs].dtype != DType::kF32 || fields[kNextObs].dtype != DType::kF32 ||
      fields[kObs].width != fields[kNextObs].width) {
    Reader::Fail("bad fixed fields");
  }
  auto* buf = new ReplayBuffer(capacity, std::move(fields), num_envs, prioritized, alpha, eps, seed, on_device);
  try {
    buf->calls_ = calls;
    buf->total_ = total;
    buf->max_priority_ = max_priority;
    for (size_t e = 0; e < num_envs; ++e) {
      buf->last_[e] = r.Get<int64_t>();
      buf->ep_start_[e] = r.Get<int64_t>();
      buf->ep_len_[e] = r.Get<int64_t>();
      buf->ep_return_[e] = r.Get<double>();
      if (buf->last_[e] >= static_cast<int64_t>(total) || buf->ep_start_[e] >= static_cast<int64_t>(total)) {
        Reader::Fail("bad environment state");
      }
    }
    const uint64_t ne = r.Get<uint64_t>();
    if (ne > capacity) Reader::Fail("bad episode count");
    for (uint64_t i = 0; i < ne; ++i) {
      Episode e;
      e.start = r.Get<int64_t>();
      e.length = r.Get<int64_t>();
      e.ret = r.Get<double>();
      if (e.start < 0 || e.length < 1 || e.start + e.length > static_cast<int64_t>(total)) Reader::Fail("bad episode");
      buf->episodes_.push_back(e);
    }
    const size_t size = buf->Size();
    if (total > 0 && on_device) {  // read and checked as below, into host columns, then uploaded
      std::vector<std::vector<uint8_t>> columns(buf->fields_.size());
      for (size_t f = 0; f < columns.size(); ++f) {
        columns[f].resize(size * buf->fields_[f].RowBytes());
        r.Raw(columns[f].data(), columns[f].size());
      }
      std::vector<int64_t> next(size);
      for (size_t i = 0; i < size; ++i) {
        next[i] = r.Get<int64_t>();
        if (next[i] < -1 || next[i] >= static_cast<int64_t>(total)) Reader::Fail("bad link");
      }
      std::vector<double> leaves(prioritized ? size : 0);
      for (double& p : leaves) {
        p = r.Get<double>();
        if (!(p > 0) || !std::isfinite(p)) Reader::Fail("bad priority");
      }
      char end[8];
      r.Raw(end, 8);
      if (std::memcmp(end, kEnd, 8) != 0 || !r.AtEnd()) Reader::Fail("bad end marker (corrupt or truncated)");
      buf->Allocate();
      buf->UploadDevice(columns, next, leaves);
      return buf;
    }
    if (total > 0) {
      buf->Allocate();
      for (const Field& f : buf->fields_) {
        for (size_t i = 0; i < size; ++i) r.Raw(buf->Rec(i) + f.offset, f.RowBytes());
      }
      for (size_t i = 0; i < size; ++i) {
        const int64_t p = r.Get<int64_t>();
        if (p < -1 || p >= static_cast<int64_t>(total)) Reader::Fail("bad link");
        buf->SetNext(i, p);
      }
      if (prioritized) {
        double* leaves = buf->tree_.Leaves();
        for (size_t i = 0; i < size; ++i) {
          const double p = r.Get<double>();
          if (!(p > 0) || !std::isfinite(p)) Reader::Fail("bad priority");
          leaves[i] = p;
        }
        buf->tree_.Rebuild(size);
      }
    }
    char end[8];
    r.Raw(end, 8);
    if (std::memcmp(end, kEnd, 8) != 0 || !r.AtEnd()) Reader::Fail("bad end marker (corrupt or truncated)");
  } catch (...) {
    delete buf;
    throw;
  }
  return buf;
}

}  // namespace rlcore::replay
