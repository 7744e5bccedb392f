// The token GAE functors of cuda/token_gae.cu on host arrays, one column of all tokens as on the
// device (see host_check.cc).
#include "../token_gae.cu"
#include "host_scan.cuh"

namespace rlcore::cuda {
void TokenGaeOnHost(const TokenGaeProblem& p) {
  const std::vector<unsigned long long> starts = p.L ? std::vector<unsigned long long>() : SequenceStarts(p);
  const TokenLayout layout{p.B, p.L, p.L ? nullptr : starts.data(), p.terminal_rewards};
  TokenGaeScans(layout, p.total, p.rewards, p.values, p.mask, p.gamma, p.lambda, p.advantages, p.returns,
                [](const auto& op, size_t T, size_t N) { HostScan(op, T, N); });
}
}  // namespace rlcore::cuda
