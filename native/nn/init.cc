// Seeded random draws for weight initialisation (src/nn/init.ts shapes them: orthogonal, Xavier,
// He). Philox streams: value i of stream `stream` under `seed` is the same on every machine.
#include <cmath>
#include <sstream>

#include "../core/binding.h"
#include "../core/rng.h"

namespace rlcore::nn {
namespace {

// nnRandom(out: Float64Array, seed, stream, kind (0: uniform [0, 1), 1: standard normal), useCuda, async)
Napi::Value RandomBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnRandom";
  Napi::Env env = info.Env();
  ArrayArg<double> out = F64Arg(info, 0, kKernel, "out", false, SIZE_MAX, "");
  const double seed = NumberArg(info, 1, kKernel, "seed", 0, 9007199254740991.0);
  const double stream = NumberArg(info, 2, kKernel, "stream", 0, 9007199254740991.0);
  const double kind = NumberArg(info, 3, kKernel, "kind", 0, 1);
  if (std::floor(seed) != seed || std::floor(stream) != stream || std::floor(kind) != kind) {
    ThrowError(env, "ERR_RANGE", std::string(kKernel) + ": seed, stream and kind must be integers");
  }
  const bool use_cuda = BoolArg(info, 4), async = BoolArg(info, 5);
  CheckDevice(env, kKernel, use_cuda);
  double* data = out.data;
  const size_t n = out.length;
  const bool normal = kind == 1;
  const auto s = static_cast<uint64_t>(seed), st = static_cast<uint64_t>(stream);
  return RunKernel(info, async, [data, n, normal, s, st] {
    RandomStream rng(s, st);
    for (size_t i = 0; i < n; ++i) {
      if (normal) {
        // Box-Muller, one value per pair of uniforms; 1 - u keeps the log finite.
        const double u1 = 1.0 - rng.Uniform(), u2 = rng.Uniform();
        data[i] = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      } else {
        data[i] = rng.Uniform();
      }
    }
  }, {info[0]});
}

}  // namespace

RLCORE_EXPORT(nnRandom, RandomBinding);

}  // namespace rlcore::nn
