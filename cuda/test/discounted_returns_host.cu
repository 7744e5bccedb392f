// DiscountedReturnsOp of cuda/discounted_returns.cu on host arrays (see host_check.cc).
#include "../discounted_returns.cu"
#include "host_scan.cuh"

namespace rlcore::cuda {
void DiscountedReturnsOnHost(const DiscountedReturnsProblem& p) {
  HostScan(DiscountedReturnsOp{p.N, p.rewards, p.terminated, p.truncated, p.last_values,
                               p.truncated ? p.final_values : nullptr, p.gamma, p.returns},
           p.T, p.N);
}
}  // namespace rlcore::cuda
