// KlOp of cuda/kl.cu on host arrays (see host_check.cc).
#include "../kl.cu"

namespace rlcore::cuda {
void TokenKlOnHost(size_t M, const float* logp, const float* ref, const uint8_t* mask, KlEstimator kind, float* kl,
                   float* grad, double* stats) {
  const KlOp op{kind, logp, ref, mask, kl, grad};
  double s = 0.0, count = 0.0;
  for (size_t i = 0; i < M; ++i) {
    bool on;
    s += op.Token(i, &on);
    count += on ? 1.0 : 0.0;
  }
  stats[0] = count > 0.0 ? s / count : 0.0;
  stats[1] = count;
}
}  // namespace rlcore::cuda
