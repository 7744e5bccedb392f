// LambdaReturnsOp of cuda/lambda_returns.cu on host arrays (see host_check.cc).
#include "../lambda_returns.cu"
#include "host_scan.cuh"

namespace rlcore::cuda {
void LambdaReturnsOnHost(const LambdaReturnsProblem& p) {
  const NextValues next = HostNextValues(p.T, p.N, p.values, p.next_values, p.last_values, p.final_values, p.truncated);
  HostScan(LambdaReturnsOp{p.rewards, p.terminated, p.truncated, next, p.gamma, p.lambda, p.returns}, p.T, p.N);
}
}  // namespace rlcore::cuda
