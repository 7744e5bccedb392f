// A ring buffer of transitions with declared fields, per-environment links between consecutive
// transitions (for n-step returns, sequences and episodes under vector-env interleaving), and an
// optional priority tree. Owned by a JS handle (see replay.cc); used from the JS thread only.
// A buffer created on the device keeps the rows, links and priority tree in device memory
// (cuda/replay.cu, through cuda/backend.h) and only the per-env episode bookkeeping here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../cuda/backend.h"
#include "huge_alloc.h"
#include "sum_tree.h"

namespace rlcore::replay {

enum class DType : int32_t { kF32 = 0, kI32 = 1, kU8 = 2 };
inline size_t DTypeSize(DType d) { return d == DType::kU8 ? 1 : 4; }

/// The first six fields are fixed; any others are extras gathered like `observation`.
enum FieldIndex : size_t { kObs = 0, kAction = 1, kReward = 2, kNextObs = 3, kTerminated = 4, kTruncated = 5 };
constexpr size_t kFixedFields = 6;

struct Field {
  std::string name;
  DType dtype;
  size_t width;
  size_t offset = 0;  // byte offset inside a row record
  size_t RowBytes() const { return width * DTypeSize(dtype); }
};

/// A finished episode still (at least partly) in the buffer: absolute positions of its ends.
struct Episode {
  int64_t start, length;
  double ret;
};

/// A data-dependent input error (thrown before anything is changed): code is an rlcore code.
struct ReplayError : std::runtime_error {
  const char* code;
  ReplayError(const char* c, const std::string& m) : std::runtime_error(m), code(c) {}
};

/// Where one row of a batch insert comes from: a pointer per field and the environment copy.
struct InsertBatch {
  size_t rows = 0;
  std::vector<const uint8_t*> fields;  // [rows, width] per field
  const uint8_t* final_obs = nullptr;  // optional [rows, obs width]: next obs where done
  const int32_t* env_ids = nullptr;    // optional [rows]; default row i -> env i
};

/// Frees a device store (never set in builds without CUDA).
struct DeviceStoreFree {
  void operator()(cuda::ReplayStore* s) const {
#ifdef RLCORE_WITH_CUDA
    cuda::ReplayFree(s);
#else
    (void)s;
#endif
  }
};

class ReplayBuffer {
 public:
  /// `on_device`: rows and priorities in CUDA memory (CUDA builds only; the caller checks).
  ReplayBuffer(size_t capacity, std::vector<Field> fields, size_t num_envs, bool prioritized, double alpha,
               double eps, uint64_t seed, bool on_device = false);

  size_t Capacity() const { return capacity_; }
  size_t Size() const { return total_ < capacity_ ? static_cast<size_t>(total_) : capacity_; }
  uint64_t Total() const { return total_; }
  size_t NumEnvs() const { return num_envs_; }
  bool Prioritized() const { return prioritized_; }
  double Alpha() const { return alpha_; }
  double Eps() const { return eps_; }
  double MaxPriority() const { return max_priority_; }
  bool OnDevice() const { return on_device_; }
  double PrioritySum() const;
  double PriorityMin() const;
  /// Leaves p^α of rows (each in [0, size)).
  void Priorities(const int32_t* rows, size_t count, double* out) const;
  size_t NumEpisodes() const { return episodes_.size(); }
  const std::vector<Field>& Fields() const { return fields_; }
  bool Closed() const { return closed_; }
  /// Frees the memory now (the handle stays valid but refuses every further call).
  void Release();

  /// Appends `batch.rows` transitions (validated first: env ids).
  void Add(const InsertBatch& batch);
  /// Uniform (or, when prioritized and `beta` >= 0, proportional) row indices; weights when given.
  void Sample(size_t batch, bool uniform, double beta, int32_t* rows, float* weights);
  /// Copies rows (-1: zeros) into one output per field; with n-step returns when n > 1.
  void Gather(const int32_t* rows, size_t count, const std::vector<uint8_t*>& outs, size_t n, double gamma,
              float* discounts) const;
  /// Sets priorities (raw, before ε and α) of rows; validated first.
  void UpdatePriorities(const int32_t* rows, const float* priorities, size_t count);
  /// Windows of `length` consecutive steps of one episode: strict (resampled until whole) or masked.
  void SampleSequences(size_t batch, size_t length, bool masked, int32_t* rows, uint8_t* mask);
  /// Follows each start row for `length` steps within its episode (the rest -1 / mask 0).
  void Follow(const int32_t* starts, size_t batch, size_t length, int32_t* rows, uint8_t* mask) const;
  /// Whole finished episodes with probability ∝ exp(return / temperature).
  void SampleEpisodes(size_t batch, double temperature, int32_t* starts, int32_t* lengths, float* returns);

  /// The whole buffer as bytes (see replay_io.cc) and back.
  std::vector<uint8_t> Serialize() const;
  static ReplayBuffer* Deserialize(const uint8_t* bytes, size_t size, bool on_device = false);

 private:
  void CheckRows(const int32_t* rows, size_t count, bool allow_missing, const char* what) const;
  // Inline (not in the .cc): these run per row, and an exported member is called through the PLT.
  uint8_t* Rec(size_t slot) { return records_.get() + slot * record_bytes_; }
  const uint8_t* Rec(size_t slot) const { return records_.get() + slot * record_bytes_; }
  bool Done(size_t slot) const {
    const uint8_t* r = Rec(slot);
    return r[fields_[kTerminated].offset] != 0 || r[fields_[kTruncated].offset] != 0;
  }
  int64_t Next(size_t slot) const {
    int64_t p;
    std::memcpy(&p, Rec(slot), sizeof(p));
    return p;
  }
  void SetNext(size_t slot, int64_t p) { std::memcpy(Rec(slot), &p, sizeof(p)); }
  // Fills one window from `start`; returns the number of valid steps.
  size_t Window(size_t start, size_t length, int32_t* rows) const;
  void Allocate();
  void AddPart(const InsertBatch& batch, size_t i0, size_t i1);
  // The device side (replay_device.cc): the same operations on the device store, after the
  // host-side checks and bookkeeping these calls share with the CPU path.
  void AllocateDevice();
  void AddPartDevice(const InsertBatch& batch, size_t i0, size_t n);  // AddPart's records and links passes
  void SetRangeDevice(size_t first, size_t count, double leaf);
  void SampleDevice(size_t batch, bool uniform, double beta, uint64_t call, int32_t* rows, float* weights);
  void GatherDevice(const int32_t* rows, size_t count, const std::vector<uint8_t*>& outs, size_t n, double gamma,
                    float* discounts) const;
  void SetManyDevice(const int32_t* rows, const double* leaves, size_t count);
  void RootsDevice(double* total, double* min) const;
  void LeavesDevice(const int32_t* rows, size_t count, double* out) const;
  void DownloadDevice(std::vector<std::vector<uint8_t>>& columns, std::vector<int64_t>& next,
                      std::vector<double>& leaves) const;
  void UploadDevice(const std::vector<std::vector<uint8_t>>& columns, const std::vector<int64_t>& next,
                    const std::vector<double>& leaves);
  /// ERR_DEVICE: `what` runs on CPU buffers only.
  [[noreturn]] static void CpuOnly(const char* what);

  size_t capacity_;
  std::vector<Field> fields_;
  size_t num_envs_;
  bool prioritized_;
  double alpha_, eps_;
  uint64_t seed_;
  uint64_t calls_ = 0;  // sampling calls so far: the Philox stream of the next call
  uint64_t total_ = 0;  // transitions ever inserted
  double max_priority_ = 1.0;
  // One record per row (array of structs: a gathered row is one or two cache lines): the
  // absolute position of the same env's next step (int64, -1: none) then every field.
  size_t record_bytes_ = 0;
  std::unique_ptr<uint8_t, FreeDeleter> records_;
  std::vector<int64_t> last_, ep_start_, ep_len_;  // [num_envs]
  std::vector<double> ep_return_;
  std::deque<Episode> episodes_;
  PriorityTree tree_;
  std::vector<int64_t> links_;   // Add: the earlier step each row links from (-1: none)
  std::vector<double> scratch_;  // UpdatePriorities: raw priorities + ε, then leaves
  bool allocated_ = false;
  bool closed_ = false;
  bool on_device_ = false;
  std::unique_ptr<cuda::ReplayStore, DeviceStoreFree> device_;
};

}  // namespace rlcore::replay
