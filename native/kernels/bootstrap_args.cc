#include "bootstrap_args.h"

namespace rlcore {

Shape ReadBootstrapInputs(const Napi::CallbackInfo& info, const char* kernel, BootstrapInputs& p) {
  Napi::Env env = info.Env();
  p.T = SizeArg(info, 0, kernel, "T");
  p.N = SizeArg(info, 1, kernel, "N");
  const Shape tn = ShapeText("[T, N]", {p.T, p.N});
  const size_t TN = CheckedProduct(env, kernel, tn);
  p.rewards = F32Arg(info, 2, kernel, "rewards", false, TN, tn).data;
  p.values = F32Arg(info, 3, kernel, "values", false, TN, tn).data;
  p.terminated = U8Arg(info, 4, kernel, "terminated", true, TN, tn).data;
  p.truncated = U8Arg(info, 5, kernel, "truncated", true, TN, tn).data;
  p.next_values = F32Arg(info, 6, kernel, "nextValues", true, TN, tn).data;
  p.last_values = F32Arg(info, 7, kernel, "lastValues", true, p.N, ShapeText("[N]", {p.N})).data;
  p.final_values = F32Arg(info, 8, kernel, "finalValues", true, TN, tn).data;
  if (p.truncated && !p.next_values && !p.final_values) {
    ThrowError(env, "ERR_ARG",
               std::string(kernel) + ": truncated steps need finalValues (V of the final observation) or nextValues");
  }
  return tn;
}

void CheckOutputAlias(Napi::Env env, const char* kernel, const char* out_name, const float* out,
                      const BootstrapInputs& p) {
  const size_t TN = p.T * p.N, bytes = TN * sizeof(float);
  const void* inputs[] = {p.rewards, p.values, p.next_values, p.final_values, p.terminated, p.truncated, p.last_values};
  const size_t input_bytes[] = {bytes, bytes, bytes, bytes, TN, TN, p.N * sizeof(float)};
  const char* names[] = {"rewards", "values", "nextValues", "finalValues", "terminated", "truncated", "lastValues"};
  for (size_t k = 0; k < 7; ++k) CheckNoOverlap(env, kernel, out_name, out, bytes, names[k], inputs[k], input_bytes[k]);
}

}  // namespace rlcore
