// PreferenceOp and CplOp of cuda/preference.cu on host arrays (see host_check.cc).
#include "../preference.cu"

namespace rlcore::cuda {
void PreferenceLossOnHost(const PreferenceLossProblem& p) {
  const double inv_p = 1.0 / static_cast<double>(p.P);
  const PreferenceOp op{p.kind, p.beta, p.label_smoothing, p.margin, inv_p, p.chosen, p.rejected,
                        p.ref_chosen, p.ref_rejected, p.grad_chosen, p.grad_rejected};
  double t[4] = {0.0, 0.0, 0.0, 0.0};
  for (size_t i = 0; i < p.P; ++i) op.Pair(i, t);
  PreferenceStats(t, inv_p, p.stats);
}

void CplLossOnHost(const CplLossProblem& p) {
  const double inv_p = 1.0 / static_cast<double>(p.P);
  const std::vector<double> disc = Discounts(p.L, p.gamma);
  const CplOp op{p.L, p.alpha, p.lambda, inv_p, p.chosen, p.rejected, disc.data(), p.grad_chosen, p.grad_rejected};
  double t[3] = {0.0, 0.0, 0.0};
  for (size_t i = 0; i < p.P; ++i) {
    double sp = 0.0, sn = 0.0;  // in the device's order: 32 lanes, then xor shuffles
    double lane_p[32] = {}, lane_n[32] = {};
    for (size_t s = 0; s < p.L; ++s) lane_p[s % 32] += disc[s] * p.chosen[i * p.L + s], lane_n[s % 32] += disc[s] * p.rejected[i * p.L + s];
    for (int o = 16; o > 0; o /= 2)
      for (int l = 0; l < 32; ++l)
        if ((l & o) == 0) lane_p[l] += lane_p[l ^ o], lane_n[l] += lane_n[l ^ o];
    sp = lane_p[0], sn = lane_n[0];
    const double s = op.Pair(sp, sn, t);
    for (size_t u = 0; u < p.L; ++u) op.Grad(i, u, s);
  }
  CplStats(t, inv_p, p.stats);
}
}  // namespace rlcore::cuda
