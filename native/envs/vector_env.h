// Batched environments: N copies of one environment stepped together, state owned here.
//
// A concrete environment is a small plain struct `E` (see cartpole.cc) with
//   static constexpr size_t kStateDim, kObsDim;   static constexpr bool kDiscrete;
//   static constexpr int32_t kNumActions;          (discrete)   float kActionLow, kActionHigh (continuous)
//   static constexpr uint32_t kMaxSteps;           (Gymnasium's max_episode_steps)
//   void Reset(double* s, RandomStream& rng) const;
//   double Step(double* s, Action a, bool* terminated) const;   // Action = int32_t or float
//   void Observe(const double* s, float* obs) const;
// and optionally, to step a block of copies at once (so the arithmetic of several copies can
// share vector instructions),
//   void StepMany(double* s, const Action* a, size_t n, double* rewards, uint8_t* terminated) const;
// BatchEnvOf<E> turns it into a BatchEnv. Gymnasium semantics: truncated is set when the
// step count reaches the time limit (also when the same step terminates); a finished copy is
// reset in the same step ("same-step" autoreset): the returned observation is already the reset
// observation and the last observation of the finished episode goes to `final_obs`.
// Copy i draws its reset states from RandomStream(seed + i, 0): same seed, same episodes.
#pragma once

// No fused multiply-add contraction in the dynamics (nor in the inlined Philox uniforms): with
// -march=native the compiler would otherwise fuse a + b*c, and results would drift by an ulp
// from Gymnasium's (and from the TypeScript CartPole's) unfused float64 arithmetic.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/rng.h"
#include "../core/thread_pool.h"

namespace rlcore {
namespace envs {

/// Numeric creation options (booleans as 0/1), keyed by their TypeScript names.
using EnvOptions = std::map<std::string, double>;

/// Pointers of one batched step; all arrays have N rows.
struct StepIo {
  const void* actions = nullptr;  // [N] int32 (discrete) or float32 (continuous)
  float* obs = nullptr;           // [N, obsDim] out
  float* rewards = nullptr;       // [N] out
  uint8_t* terminated = nullptr;  // [N] out
  uint8_t* truncated = nullptr;   // [N] out
  float* final_obs = nullptr;     // [N, obsDim] out, written where terminated | truncated
};

/// The type-erased batched environment the binding drives.
class BatchEnv {
 public:
  virtual ~BatchEnv() = default;
  virtual size_t NumEnvs() const = 0;
  virtual size_t ObsDim() const = 0;
  virtual size_t StateDim() const = 0;
  virtual bool Discrete() const = 0;
  /// Re-seeds every copy (copy i: seed + i) without resetting it.
  virtual void Seed(uint64_t seed) = 0;
  /// Resets every copy and writes the observations [N, obsDim].
  virtual void ResetAll(float* obs) = 0;
  /// Whether every action is valid (checked before anything changes).
  virtual bool ActionsValid(const void* actions) const = 0;
  /// What is wrong with the first invalid action ("" if none).
  virtual std::string ActionError(const void* actions) const = 0;
  virtual void Step(const StepIo& io) = 0;
  /// Copy i's physical state (StateDim values) followed by its step count in this episode.
  virtual void GetState(size_t i, double* out) const = 0;
  virtual void SetState(size_t i, const double* in) = 0;
  virtual void Observe(size_t i, float* out) const = 0;
};

/// Copies stepped together per block (StepMany).
constexpr size_t kStepBlock = 32;

template <class E, class = void>
struct HasStepMany : std::false_type {};
template <class E>
struct HasStepMany<E, std::void_t<decltype(&E::StepMany)>> : std::true_type {};

/// Reads an option (default when absent) and checks it lies in [lo, hi]; throws std::invalid_argument.
double TakeOption(EnvOptions* options, const char* name, double fallback, double lo, double hi);

/// Number of copies above which a step runs on the thread pool, and the pool's chunk size.
constexpr size_t kParallelThreshold = 128;
constexpr size_t kParallelGrain = 64;

template <class E>
class BatchEnvOf final : public BatchEnv {
 public:
  using Action = std::conditional_t<E::kDiscrete, int32_t, float>;

  BatchEnvOf(E dyn, size_t n, uint64_t seed, uint32_t max_steps)
      : dyn_(dyn), n_(n), max_steps_(max_steps), state_(n * E::kStateDim), elapsed_(n, 0) {
    rngs_.reserve(n);
    for (size_t i = 0; i < n; ++i) rngs_.emplace_back(seed + i, 0);
  }

  size_t NumEnvs() const override { return n_; }
  size_t ObsDim() const override { return E::kObsDim; }
  size_t StateDim() const override { return E::kStateDim; }
  bool Discrete() const override { return E::kDiscrete; }

  void Seed(uint64_t seed) override {
    for (size_t i = 0; i < n_; ++i) rngs_[i] = RandomStream(seed + i, 0);
  }

  void ResetAll(float* obs) override {
    for (size_t i = 0; i < n_; ++i) {
      double* s = &state_[i * E::kStateDim];
      dyn_.Reset(s, rngs_[i]);
      elapsed_[i] = 0;
      dyn_.Observe(s, obs + i * E::kObsDim);
    }
  }

  bool ActionsValid(const void* actions) const override {
    const Action* a = static_cast<const Action*>(actions);
    bool bad = false;
    for (size_t i = 0; i < n_; ++i) bad |= !Valid(a[i]);  // branch-free scan; locate only on failure
    return !bad;
  }

  std::string ActionError(const void* actions) const override {
    const Action* a = static_cast<const Action*>(actions);
    for (size_t i = 0; i < n_; ++i) {
      if (!Valid(a[i])) {
        if constexpr (E::kDiscrete) {
          return "actions[" + std::to_string(i) + "] must be an integer in [0, " + std::to_string(E::kNumActions) +
                 "); received " + std::to_string(a[i]);
        } else {
          return "actions[" + std::to_string(i) + "] must be a finite number; received " + std::to_string(a[i]);
        }
      }
    }
    return "";
  }

  void Step(const StepIo& io) override {
    if (n_ >= kParallelThreshold) {
      ParallelFor(n_, kParallelGrain, [&](size_t i0, size_t i1) { StepRange(io, i0, i1); });
    } else {
      StepRange(io, 0, n_);
    }
  }

  void GetState(size_t i, double* out) const override {
    for (size_t k = 0; k < E::kStateDim; ++k) out[k] = state_[i * E::kStateDim + k];
    out[E::kStateDim] = elapsed_[i];
  }
  void SetState(size_t i, const double* in) override {
    for (size_t k = 0; k < E::kStateDim; ++k) state_[i * E::kStateDim + k] = in[k];
    elapsed_[i] = static_cast<uint32_t>(in[E::kStateDim]);
  }
  void Observe(size_t i, float* out) const override { dyn_.Observe(&state_[i * E::kStateDim], out); }

 private:
  static bool Valid(Action a) {
    if constexpr (E::kDiscrete) return a >= 0 && a < E::kNumActions;
    else return std::isfinite(a);
  }

  void StepRange(const StepIo& io, size_t i0, size_t i1) {
    const Action* actions = static_cast<const Action*>(io.actions);
    double rewards[kStepBlock];
    uint8_t terminated[kStepBlock];
    for (size_t b0 = i0; b0 < i1; b0 += kStepBlock) {
      const size_t n = std::min(kStepBlock, i1 - b0);
      double* s0 = &state_[b0 * E::kStateDim];
      if constexpr (HasStepMany<E>::value) {
        dyn_.StepMany(s0, actions + b0, n, rewards, terminated);
      } else {
        for (size_t j = 0; j < n; ++j) {
          bool term = false;
          rewards[j] = dyn_.Step(s0 + j * E::kStateDim, actions[b0 + j], &term);
          terminated[j] = term;
        }
      }
      for (size_t j = 0; j < n; ++j) {
        const size_t i = b0 + j;
        double* s = s0 + j * E::kStateDim;
        io.rewards[i] = static_cast<float>(rewards[j]);
        const bool trunc = ++elapsed_[i] >= max_steps_;
        io.terminated[i] = terminated[j];
        io.truncated[i] = trunc;
        if (terminated[j] || trunc) {
          dyn_.Observe(s, io.final_obs + i * E::kObsDim);
          dyn_.Reset(s, rngs_[i]);
          elapsed_[i] = 0;
        }
        dyn_.Observe(s, io.obs + i * E::kObsDim);
      }
    }
  }

  E dyn_;
  size_t n_;
  uint32_t max_steps_;
  std::vector<double> state_;
  std::vector<uint32_t> elapsed_;
  std::vector<RandomStream> rngs_;
};

/// How one environment id is created.
struct EnvFactory {
  const char* id;
  uint32_t max_steps;  // default time limit
  /// Builds the batch; reads (and removes) its own options, throws std::invalid_argument on bad ones.
  std::unique_ptr<BatchEnv> (*create)(size_t n, uint64_t seed, uint32_t max_steps, EnvOptions* options);
};

/// Registers a batched environment at static-initialisation time.
struct EnvRegistration {
  explicit EnvRegistration(EnvFactory factory);
};
const EnvFactory* FindEnv(const std::string& id);
std::vector<std::string> EnvIds();

#define RLCORE_REGISTER_ENV(tag, factory) static ::rlcore::envs::EnvRegistration rlcore_env_##tag(factory)

}  // namespace envs
}  // namespace rlcore
