// Acrobot-v1 (Sutton 1996; Sutton & Barto 2018), as Gymnasium defines it: two unit links and
// masses, the "book" equations of motion (the extra -m2 l1 lc2 θ̇1² sin θ2 term), one
// fourth-order Runge-Kutta step of dt = 0.2 with the torque held, angles wrapped to [-π, π],
// velocities bounded by 4π and 9π. Terminates when -cos θ1 - cos(θ1 + θ2) > 1 (strict);
// reward -1 per step, 0 on the terminating step; time limit 500. Initial state uniform in
// [-0.1, 0.1]^4, rounded to float32 as Gymnasium does. Actions {0, 1, 2} -> torque {-1, 0, +1}.
// Observation [cos θ1, sin θ1, cos θ2, sin θ2, θ̇1, θ̇2]. Arithmetic in float64.
#include <algorithm>

#include "vector_env.h"

namespace rlcore {
namespace envs {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct Acrobot {
  static constexpr size_t kStateDim = 4, kObsDim = 6;
  static constexpr bool kDiscrete = true;
  static constexpr int32_t kNumActions = 3;

  static constexpr double kDt = 0.2, kL1 = 1.0, kM1 = 1.0, kM2 = 1.0, kLc1 = 0.5, kLc2 = 0.5, kI1 = 1.0, kI2 = 1.0;
  static constexpr double kG = 9.8, kMaxVel1 = 4 * kPi, kMaxVel2 = 9 * kPi;

  void Reset(double* s, RandomStream& rng) const {
    for (size_t k = 0; k < 4; ++k) s[k] = static_cast<float>(rng.Uniform(-0.1, 0.1));
  }

  // Time derivative of (θ1, θ2, θ̇1, θ̇2) under torque a.
  static void Derivs(const double* y, double a, double* dy) {
    const double theta1 = y[0], theta2 = y[1], dtheta1 = y[2], dtheta2 = y[3];
    const double d1 = kM1 * kLc1 * kLc1 + kM2 * (kL1 * kL1 + kLc2 * kLc2 + 2 * kL1 * kLc2 * std::cos(theta2)) + kI1 + kI2;
    const double d2 = kM2 * (kLc2 * kLc2 + kL1 * kLc2 * std::cos(theta2)) + kI2;
    const double phi2 = kM2 * kLc2 * kG * std::cos(theta1 + theta2 - kPi / 2.0);
    const double phi1 = -kM2 * kL1 * kLc2 * (dtheta2 * dtheta2) * std::sin(theta2) -
                        2 * kM2 * kL1 * kLc2 * dtheta2 * dtheta1 * std::sin(theta2) +
                        (kM1 * kLc1 + kM2 * kL1) * kG * std::cos(theta1 - kPi / 2) + phi2;
    const double ddtheta2 = (a + d2 / d1 * phi1 - kM2 * kL1 * kLc2 * (dtheta1 * dtheta1) * std::sin(theta2) - phi2) /
                            (kM2 * kLc2 * kLc2 + kI2 - d2 * d2 / d1);
    const double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    dy[0] = dtheta1, dy[1] = dtheta2, dy[2] = ddtheta1, dy[3] = ddtheta2;
  }

  // Wraps x into [m, M] by whole turns (huge values, only reachable through setState, by fmod).
  static double Wrap(double x, double m, double M) {
    const double diff = M - m;
    if (x > M + 64 * diff || x < m - 64 * diff) x = m + std::fmod(std::fmod(x - m, diff) + diff, diff);
    while (x > M) x -= diff;
    while (x < m) x += diff;
    return x;
  }

  double Step(double* s, int32_t action, bool* terminated) const {
    const double torque = static_cast<double>(action) - 1.0;
    const double dt = kDt, dt2 = kDt / 2.0;
    double k1[4], k2[4], k3[4], k4[4], y[4];
    Derivs(s, torque, k1);
    for (size_t j = 0; j < 4; ++j) y[j] = s[j] + dt2 * k1[j];
    Derivs(y, torque, k2);
    for (size_t j = 0; j < 4; ++j) y[j] = s[j] + dt2 * k2[j];
    Derivs(y, torque, k3);
    for (size_t j = 0; j < 4; ++j) y[j] = s[j] + dt * k3[j];
    Derivs(y, torque, k4);
    for (size_t j = 0; j < 4; ++j) y[j] = s[j] + dt / 6.0 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
    s[0] = Wrap(y[0], -kPi, kPi);
    s[1] = Wrap(y[1], -kPi, kPi);
    s[2] = std::min(std::max(y[2], -kMaxVel1), kMaxVel1);
    s[3] = std::min(std::max(y[3], -kMaxVel2), kMaxVel2);
    const bool done = -std::cos(s[0]) - std::cos(s[1] + s[0]) > 1.0;
    *terminated = done;
    return done ? 0.0 : -1.0;
  }

  void Observe(const double* s, float* obs) const {
    obs[0] = static_cast<float>(std::cos(s[0]));
    obs[1] = static_cast<float>(std::sin(s[0]));
    obs[2] = static_cast<float>(std::cos(s[1]));
    obs[3] = static_cast<float>(std::sin(s[1]));
    obs[4] = static_cast<float>(s[2]);
    obs[5] = static_cast<float>(s[3]);
  }
};

std::unique_ptr<BatchEnv> Create(size_t n, uint64_t seed, uint32_t max_steps, EnvOptions*) {
  return std::make_unique<BatchEnvOf<Acrobot>>(Acrobot{}, n, seed, max_steps);
}

RLCORE_REGISTER_ENV(acrobot, (EnvFactory{"Acrobot-v1", 500, Create}));

}  // namespace
}  // namespace envs
}  // namespace rlcore
