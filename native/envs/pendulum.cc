// Pendulum-v1, as Gymnasium defines it: u = clip(a, -2, 2);
// cost = normalize(θ)² + 0.1 θ̇² + 0.001 u² with normalize(θ) = ((θ + π) mod 2π) - π (floored);
// θ̇' = clip(θ̇ + (3g/(2l) sin θ + 3/(m l²) u) dt, -8, 8), θ' = θ + θ̇' dt (semi-implicit Euler,
// dt = 0.05, m = l = 1, g = 10 by default); reward -cost; never terminates; time limit 200.
// Initial θ uniform in [-π, π), θ̇ in [-1, 1). Action Box(-2, 2, (1,)): finite values outside it
// are clipped, NaN and ±Inf are rejected. Observation [cos θ, sin θ, θ̇]. Arithmetic in float64.
#include <algorithm>

#include "vector_env.h"

namespace rlcore {
namespace envs {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct Pendulum {
  static constexpr size_t kStateDim = 2, kObsDim = 3;
  static constexpr bool kDiscrete = false;
  static constexpr double kMaxSpeed = 8, kMaxTorque = 2.0, kDt = 0.05, kM = 1.0, kL = 1.0;

  double g = 10.0;

  void Reset(double* s, RandomStream& rng) const {
    s[0] = rng.Uniform(-kPi, kPi);
    s[1] = rng.Uniform(-1.0, 1.0);
  }

  static double AngleNormalize(double x) {
    const double period = 2 * kPi;
    double r = std::fmod(x + kPi, period);  // Python's % takes the sign of the divisor
    if (r < 0) r += period;
    return r - kPi;
  }

  double Step(double* s, float action, bool* terminated) const {
    const double th = s[0], thdot = s[1];
    const double u = std::min(std::max(static_cast<double>(action), -kMaxTorque), kMaxTorque);
    const double nth = AngleNormalize(th);
    const double costs = nth * nth + 0.1 * thdot * thdot + 0.001 * (u * u);
    double newthdot = thdot + (3 * g / (2 * kL) * std::sin(th) + 3.0 / (kM * kL * kL) * u) * kDt;
    newthdot = std::min(std::max(newthdot, -kMaxSpeed), kMaxSpeed);
    s[0] = th + newthdot * kDt;
    s[1] = newthdot;
    *terminated = false;
    return -costs;
  }

  void Observe(const double* s, float* obs) const {
    obs[0] = static_cast<float>(std::cos(s[0]));
    obs[1] = static_cast<float>(std::sin(s[0]));
    obs[2] = static_cast<float>(s[1]);
  }
};

std::unique_ptr<BatchEnv> Create(size_t n, uint64_t seed, uint32_t max_steps, EnvOptions* options) {
  Pendulum dyn;
  dyn.g = TakeOption(options, "g", 10.0, 0, 1000);
  return std::make_unique<BatchEnvOf<Pendulum>>(dyn, n, seed, max_steps);
}

RLCORE_REGISTER_ENV(pendulum, (EnvFactory{"Pendulum-v1", 200, Create}));

}  // namespace
}  // namespace envs
}  // namespace rlcore
