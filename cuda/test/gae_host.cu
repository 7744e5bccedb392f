// GaeOp of cuda/gae.cu on host arrays (see host_check.cc).
#include "../backend.cu"
#include "../gae.cu"
#include "host_scan.cuh"

namespace rlcore::cuda {
void GaeOnHost(const GaeProblem& p) {
  GaeOp op{};
  op.T = p.T;
  op.N = p.N;
  op.rewards = p.rewards;
  op.values = p.values;
  op.terminated = p.terminated;
  op.truncated = p.truncated;
  op.next_values = p.next_values;
  op.last_values = p.last_values;
  op.final_values = (p.truncated && !p.next_values) ? p.final_values : nullptr;
  op.gamma = p.gamma;
  op.lambda = p.lambda;
  op.advantages = p.advantages;
  op.returns = p.returns;
  HostScan(op, p.T, p.N);
}
}  // namespace rlcore::cuda
