// VtraceOp and PgAdvantageAt of cuda/vtrace.cu on host arrays (see host_check.cc).
#include "../vtrace.cu"
#include "host_scan.cuh"

namespace rlcore::cuda {
void VtraceOnHost(const VtraceProblem& p) {
  const VtraceArgs args{p.rewards, p.log_rhos, p.terminated, p.truncated,
                        HostNextValues(p.T, p.N, p.values, p.next_values, p.last_values, p.final_values, p.truncated),
                        p.gamma, p.lambda, p.clip_rho, p.clip_c, p.clip_pg_rho, p.vs, p.pg_advantages};
  HostScan(VtraceOp{args}, p.T, p.N);
  for (size_t i = 0; i < p.T * p.N; ++i) p.pg_advantages[i] = PgAdvantageAt(args, i);
}
}  // namespace rlcore::cuda
