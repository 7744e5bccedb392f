// The CUDA side of rlcore as seen from the C++ binding. Every entry point works on host
// pointers: it copies inputs to the device, runs the kernel, and copies results back.
// In a build without CUDA (RLCORE_WITH_CUDA undefined) Built() is false and Devices() is empty.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rlcore {
struct GaeProblem;
struct LambdaReturnsProblem;
struct DiscountedReturnsProblem;
struct NstepReturnsProblem;
struct VtraceProblem;
struct TokenGaeProblem;
struct WhitenProblem;
struct GroupNormalizeProblem;
struct PolicyLossProblem;
struct PreferenceLossProblem;
struct CplLossProblem;
enum class KlEstimator : int;
}

namespace rlcore::cuda {

struct DeviceInfo {
  std::string name;
  std::string compute_capability;
  size_t memory_bytes = 0;
};

/// Thrown (instead of a plain std::runtime_error) by the CUDA entry points when there is no usable
/// device: no driver, no GPU, a driver too old for this runtime, or a GPU whose architecture this
/// build has no code for. The binding may report it as ERR_DEVICE rather than ERR_NATIVE.
class DeviceUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// True when this addon was compiled with the CUDA kernels.
bool Built();
/// Visible CUDA devices; on failure (no driver, no device) returns none and sets *error.
std::vector<DeviceInfo> Devices(std::string* error);

// Kernel entry points (defined only in CUDA builds, cuda/NAME.cu), with the semantics of the CPU
// kernels in native/kernels/NAME.cc. They run on the current device, on a stream of their own,
// and throw std::runtime_error with the CUDA error text on CUDA errors (DeviceUnavailable when
// there is no usable device).
void Gae(const GaeProblem& p);                              // cuda/gae.cu
void LambdaReturns(const LambdaReturnsProblem& p);          // cuda/lambda_returns.cu
void DiscountedReturns(const DiscountedReturnsProblem& p);  // cuda/discounted_returns.cu
void NstepReturns(const NstepReturnsProblem& p);            // cuda/nstep_returns.cu
void Vtrace(const VtraceProblem& p);                        // cuda/vtrace.cu
void TokenGae(const TokenGaeProblem& p);                    // cuda/token_gae.cu
void Whiten(const WhitenProblem& p);                        // cuda/normalize.cu
void GroupNormalize(const GroupNormalizeProblem& p);        // cuda/group_normalize.cu
// LLM losses (semantics of native/llm/NAME.cc; float64 reductions in a fixed order, so results
// are deterministic and equal to the CPU's to float32 rounding of per-token values).
void PolicyLoss(const PolicyLossProblem& p);                // cuda/policy_loss.cu
void PreferenceLoss(const PreferenceLossProblem& p);        // cuda/preference.cu
void CplLoss(const CplLossProblem& p);                      // cuda/preference.cu
/// tokenKl over M tokens (mask and grad may be null); stats = [mean k over the mask, tokens].
void TokenKl(size_t M, const float* logp, const float* ref, const uint8_t* mask, KlEstimator kind, float* kl,
             float* grad, double* stats);                   // cuda/kl.cu

// Device-resident replay storage (cuda/replay.cu; the same functions on host memory in
// cuda/test/replay_host.cu), driven by native/replay/replay_buffer.cc for `device: 'cuda'`
// buffers: every field as a column [capacity, row bytes], the links between an environment's
// consecutive steps, and (prioritized) the sum and min trees with native/replay/sum_tree.h's
// layout and arithmetic, so that sampling draws the CPU buffer's rows for the same seed. Inputs
// and outputs are host arrays; each call synchronises its store's stream before returning.
class ReplayStore;

/// Storage for `capacity` rows of fields of `row_bytes` bytes each (and a tree when prioritized).
ReplayStore* ReplayAlloc(size_t capacity, const std::vector<size_t>& row_bytes, bool prioritized);
void ReplayFree(ReplayStore* store);

/// One insert part (at most `capacity` rows) into the ring slots first_slot, first_slot + 1, ...
/// (wrapping): one host-to-device copy, then one scatter.
struct ReplayInsertPart {
  size_t rows = 0, first_slot = 0;
  std::vector<const uint8_t*> fields;  // per field: [rows, row bytes], from the part's first row
  const uint8_t* final_obs = nullptr;  // optional [rows, obs bytes]: next obs where done
  const int64_t* next = nullptr;       // [rows]: the link stored with each new row (-1: none)
  const int64_t* old_links = nullptr;  // [num_old_links, 2]: (slot, next) links into older rows
  size_t num_old_links = 0;
};
void ReplayInsert(ReplayStore* store, const ReplayInsertPart& part);
/// PriorityTree::SetRange: leaves [first, first + count) = leaf, then their ancestors.
void ReplaySetRange(ReplayStore* store, size_t first, size_t count, double leaf);
/// PriorityTree::SetMany with rows sorted and distinct (the caller keeps the last duplicate).
void ReplaySetMany(ReplayStore* store, const int32_t* rows, const double* leaves, size_t count);
/// Roots of the sum and min trees (PriorityTree::Total and Min).
void ReplayRoots(ReplayStore* store, double* total, double* min);
/// `batch` rows of the first `size`: uniform (ratio null) or proportional, with ratio[b] = p_row / p_min.
void ReplaySample(ReplayStore* store, uint64_t seed, uint64_t call, size_t size, size_t batch, int32_t* rows,
                  double* ratio);
/// Copies rows (-1: zeros) into outs[f] (null: skipped), as the CPU's 1-step Gather.
void ReplayGather(ReplayStore* store, const int32_t* rows, size_t count, const std::vector<uint8_t*>& outs);
/// Leaves p^α of rows.
void ReplayLeaves(ReplayStore* store, const int32_t* rows, size_t count, double* out);
/// Rows [0, size) of every field (columns[f]: [size, row bytes]), their links and leaves (null when
/// not prioritized), for save; and back, rebuilding the tree, for load.
void ReplayDownload(ReplayStore* store, size_t size, const std::vector<uint8_t*>& columns, int64_t* next,
                    double* leaves);
void ReplayUpload(ReplayStore* store, size_t size, const std::vector<const uint8_t*>& columns, const int64_t* next,
                  const double* leaves);

/// One device-resident timing: no host<->device copies inside the timed region.
struct BenchResult {
  double ms = 0;        // mean milliseconds per launch (cudaEvent timing)
  double bytes = 0;     // bytes read + written per launch, by the same model as bench/*.bench.ts
  double elements = 0;  // elements per launch (T * N)
  std::string path;     // which device-level scan ran, e.g. "walk" or "tiled W=1 Q=435 levels=2"
};

/// Kernels that Bench() can time (in CUDA builds: every cuda/*.cu that registers one).
std::vector<std::string> BenchKernels();
/// Allocates device buffers of shape [T, N] for `kernel`, fills them (seeded Philox), warms up,
/// and times `iters` launches with cudaEvent. Throws std::invalid_argument for an unknown kernel
/// and std::runtime_error on CUDA errors (out of memory included).
BenchResult Bench(const std::string& kernel, size_t T, size_t N, int iters);

}  // namespace rlcore::cuda
