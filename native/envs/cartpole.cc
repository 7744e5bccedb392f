// CartPole-v1 (Barto, Sutton & Anderson 1983), as Gymnasium defines it: explicit Euler with
// tau = 0.02, force ±10 N, termination when |x| > 2.4 or |θ| > 12° (strict: exactly at a
// threshold the episode goes on), reward 1 per step (with suttonBartoReward: 0 per step and
// -1 on termination), initial state uniform in [-0.05, 0.05]^4, time limit 500.
// Observation [x, ẋ, θ, θ̇]; actions {0: push left, 1: push right}. Arithmetic in float64.
#include "vector_env.h"

namespace rlcore {
namespace envs {
namespace {

struct CartPole {
  static constexpr size_t kStateDim = 4, kObsDim = 4;
  static constexpr bool kDiscrete = true;
  static constexpr int32_t kNumActions = 2;

  static constexpr double kGravity = 9.8, kMassCart = 1.0, kMassPole = 0.1, kTotalMass = kMassCart + kMassPole;
  static constexpr double kLength = 0.5, kPoleMassLength = kMassPole * kLength, kForceMag = 10.0, kTau = 0.02;
  static constexpr double kXThreshold = 2.4;
  static constexpr double kThetaThreshold = 12 * 2 * 3.14159265358979323846 / 360;

  bool sutton_barto_reward = false;

  void Reset(double* s, RandomStream& rng) const {
    for (size_t k = 0; k < 4; ++k) s[k] = rng.Uniform(-0.05, 0.05);
  }

  double Step(double* s, int32_t action, bool* terminated) const {
    const double x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
    const double force = action == 1 ? kForceMag : -kForceMag;
    const double costheta = std::cos(theta), sintheta = std::sin(theta);
    const double temp = (force + kPoleMassLength * (theta_dot * theta_dot) * sintheta) / kTotalMass;
    const double thetaacc =
        (kGravity * sintheta - costheta * temp) / (kLength * (4.0 / 3.0 - kMassPole * (costheta * costheta) / kTotalMass));
    const double xacc = temp - kPoleMassLength * thetaacc * costheta / kTotalMass;
    s[0] = x + kTau * x_dot;
    s[1] = x_dot + kTau * xacc;
    s[2] = theta + kTau * theta_dot;
    s[3] = theta_dot + kTau * thetaacc;
    const bool done = s[0] < -kXThreshold || s[0] > kXThreshold || s[2] < -kThetaThreshold || s[2] > kThetaThreshold;
    *terminated = done;
    if (sutton_barto_reward) return done ? -1.0 : 0.0;
    return 1.0;
  }

  void Observe(const double* s, float* obs) const {
    for (size_t k = 0; k < 4; ++k) obs[k] = static_cast<float>(s[k]);
  }
};

std::unique_ptr<BatchEnv> Create(size_t n, uint64_t seed, uint32_t max_steps, EnvOptions* options) {
  CartPole dyn;
  dyn.sutton_barto_reward = TakeOption(options, "suttonBartoReward", 0, 0, 1) != 0;
  return std::make_unique<BatchEnvOf<CartPole>>(dyn, n, seed, max_steps);
}

RLCORE_REGISTER_ENV(cartpole, (EnvFactory{"CartPole-v1", 500, Create}));

}  // namespace
}  // namespace envs
}  // namespace rlcore
