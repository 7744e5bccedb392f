// MountainCar-v0 (Moore 1990), as Gymnasium defines it: v += (a - 1)·0.001 - 0.0025·cos(3x),
// v clipped to ±0.07, x += v clipped to [-1.2, 0.6], and a car stopped against the left wall
// (x = -1.2 with v < 0) gets v = 0. Terminates when x >= 0.5 and v >= goalVelocity (0);
// reward -1 per step; time limit 200. Initial x uniform in [-0.6, -0.4), v = 0.
// Actions {0: push left, 1: none, 2: push right}; observation [x, v]. Arithmetic in float64.
#include <algorithm>

#include "vector_env.h"

namespace rlcore {
namespace envs {
namespace {

struct MountainCar {
  static constexpr size_t kStateDim = 2, kObsDim = 2;
  static constexpr bool kDiscrete = true;
  static constexpr int32_t kNumActions = 3;
  static constexpr double kMinPosition = -1.2, kMaxPosition = 0.6, kMaxSpeed = 0.07, kGoalPosition = 0.5;
  static constexpr double kForce = 0.001, kGravity = 0.0025;

  double goal_velocity = 0;

  void Reset(double* s, RandomStream& rng) const {
    s[0] = rng.Uniform(-0.6, -0.4);
    s[1] = 0;
  }

  double Step(double* s, int32_t action, bool* terminated) const {
    double position = s[0], velocity = s[1];
    velocity += (action - 1) * kForce + std::cos(3 * position) * (-kGravity);
    velocity = std::min(std::max(velocity, -kMaxSpeed), kMaxSpeed);
    position += velocity;
    position = std::min(std::max(position, kMinPosition), kMaxPosition);
    if (position == kMinPosition && velocity < 0) velocity = 0;
    s[0] = position;
    s[1] = velocity;
    *terminated = position >= kGoalPosition && velocity >= goal_velocity;
    return -1.0;
  }

  void Observe(const double* s, float* obs) const {
    obs[0] = static_cast<float>(s[0]);
    obs[1] = static_cast<float>(s[1]);
  }
};

std::unique_ptr<BatchEnv> Create(size_t n, uint64_t seed, uint32_t max_steps, EnvOptions* options) {
  MountainCar dyn;
  dyn.goal_velocity = TakeOption(options, "goalVelocity", 0, -1, 1);
  return std::make_unique<BatchEnvOf<MountainCar>>(dyn, n, seed, max_steps);
}

RLCORE_REGISTER_ENV(mountain_car, (EnvFactory{"MountainCar-v0", 200, Create}));

}  // namespace
}  // namespace envs
}  // namespace rlcore
