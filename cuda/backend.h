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
