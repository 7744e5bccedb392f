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
    double reward;
    uint8_t term;
    StepMany(s, &action, 1, &reward, &term);
    *terminated = term;
    return reward;
  }

  // n <= kStepBlock copies: gather into columns, sin/cos, then branch-free arithmetic the
  // compiler vectorises (IEEE division and no contraction: the same bits as one at a time).
  void StepMany(double* s, const int32_t* action, size_t n, double* reward, uint8_t* terminated) const {
    double x[kStepBlock], x_dot[kStepBlock], theta[kStepBlock], theta_dot[kStepBlock];
    double force[kStepBlock], sintheta[kStepBlock], costheta[kStepBlock];
    for (size_t j = 0; j < n; ++j) {
      x[j] = s[4 * j], x_dot[j] = s[4 * j + 1], theta[j] = s[4 * j + 2], theta_dot[j] = s[4 * j + 3];
      force[j] = action[j] == 1 ? kForceMag : -kForceMag;
    }
    for (size_t j = 0; j < n; ++j) {
      costheta[j] = std::cos(theta[j]);
      sintheta[j] = std::sin(theta[j]);
    }
    for (size_t j = 0; j < n; ++j) {
      const double c = costheta[j], sn = sintheta[j], td = theta_dot[j];
      const double temp = (force[j] + kPoleMassLength * (td * td) * sn) / kTotalMass;
      const double thetaacc = (kGravity * sn - c * temp) / (kLength * (4.0 / 3.0 - kMassPole * (c * c) / kTotalMass));
      const double xacc = temp - kPoleMassLength * thetaacc * c / kTotalMass;
      const double nx = x[j] + kTau * x_dot[j], nth = theta[j] + kTau * td;
      x[j] = nx;
      x_dot[j] = x_dot[j] + kTau * xacc;
      theta[j] = nth;
      theta_dot[j] = td + kTau * thetaacc;
      const bool done = nx < -kXThreshold || nx > kXThreshold || nth < -kThetaThreshold || nth > kThetaThreshold;
      terminated[j] = done;
      reward[j] = sutton_barto_reward ? (done ? -1.0 : 0.0) : 1.0;
    }
    for (size_t j = 0; j < n; ++j) {
      s[4 * j] = x[j], s[4 * j + 1] = x_dot[j], s[4 * j + 2] = theta[j], s[4 * j + 3] = theta_dot[j];
    }
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
