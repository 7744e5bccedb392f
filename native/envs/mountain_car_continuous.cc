// MountainCarContinuous-v0, as Gymnasium defines it: force = clip(a, -1, 1),
// v += force·0.0015 - 0.0025·cos(3x), v clipped to ±0.07, x += v clipped to [-1.2, 0.6], a car
// stopped against the left wall gets v = 0; the state is stored in float32 after each step (as
// Gymnasium does). Terminates when x >= 0.45 and v >= goalVelocity (0); reward
// 100·[terminated] - 0.1·a² with the unclipped action; time limit 999. Initial x uniform in
// [-0.6, -0.4), v = 0. Action Box(-1, 1, (1,)): finite values outside it are clipped, NaN and
// ±Inf are rejected. Observation [x, v].
#include <algorithm>

#include "vector_env.h"

namespace rlcore {
namespace envs {
namespace {

struct MountainCarContinuous {
  static constexpr size_t kStateDim = 2, kObsDim = 2;
  static constexpr bool kDiscrete = false;
  static constexpr double kMinPosition = -1.2, kMaxPosition = 0.6, kMaxSpeed = 0.07, kGoalPosition = 0.45;
  static constexpr double kPower = 0.0015;

  double goal_velocity = 0;

  void Reset(double* s, RandomStream& rng) const {
    s[0] = rng.Uniform(-0.6, -0.4);
    s[1] = 0;
  }

  double Step(double* s, float action, bool* terminated) const {
    double position = s[0], velocity = s[1];
    const double a = action;
    const double force = std::min(std::max(a, -1.0), 1.0);
    velocity += force * kPower - 0.0025 * std::cos(3 * position);
    if (velocity > kMaxSpeed) velocity = kMaxSpeed;
    if (velocity < -kMaxSpeed) velocity = -kMaxSpeed;
    position += velocity;
    if (position > kMaxPosition) position = kMaxPosition;
    if (position < kMinPosition) position = kMinPosition;
    if (position == kMinPosition && velocity < 0) velocity = 0;
    const bool done = position >= kGoalPosition && velocity >= goal_velocity;
    *terminated = done;
    s[0] = static_cast<float>(position);
    s[1] = static_cast<float>(velocity);
    return (done ? 100.0 : 0.0) - a * a * 0.1;
  }

  void Observe(const double* s, float* obs) const {
    obs[0] = static_cast<float>(s[0]);
    obs[1] = static_cast<float>(s[1]);
  }
};

std::unique_ptr<BatchEnv> Create(size_t n, uint64_t seed, uint32_t max_steps, EnvOptions* options) {
  MountainCarContinuous dyn;
  dyn.goal_velocity = TakeOption(options, "goalVelocity", 0, -1, 1);
  return std::make_unique<BatchEnvOf<MountainCarContinuous>>(dyn, n, seed, max_steps);
}

RLCORE_REGISTER_ENV(mountain_car_continuous, (EnvFactory{"MountainCarContinuous-v0", 999, Create}));

}  // namespace
}  // namespace envs
}  // namespace rlcore
