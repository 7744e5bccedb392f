// NstepAt of cuda/nstep_returns.cu on host arrays (see host_check.cc).
#include "../nstep_returns.cu"
#include "host_scan.cuh"

namespace rlcore::cuda {
void NstepReturnsOnHost(const NstepReturnsProblem& p) {
  const NstepArgs args{p.n, p.rewards, p.terminated, p.truncated,
                       HostNextValues(p.T, p.N, p.values, p.next_values, p.last_values, p.final_values, p.truncated),
                       p.gamma, p.returns};
  for (size_t i = 0; i < p.T * p.N; ++i) p.returns[i] = NstepAt(args, i);
}
}  // namespace rlcore::cuda
