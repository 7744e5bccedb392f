// PolicyOp of cuda/policy_loss.cu on host arrays, row by row in the order of the device passes,
// with the host-side selection and statistics of the entry point (see host_check.cc).
#include "../policy_loss.cu"

namespace rlcore::cuda {
void PolicyLossOnHost(const PolicyLossProblem& p) {
  const size_t B = p.B, T = p.T, n = B * T;
  const bool cov = IsCov(p.kind), gspo = p.kind == PolicyLossKind::kGspo;
  if (n == 0) {
    const double zero[kOutWidth] = {};
    return FinishStats(p, 0.0, 0.0, 0, zero);
  }
  PolicyOp op = MakeOp(p, p.log_prob, p.old_log_prob, p.advantages, p.mask, p.ref_log_prob, p.rollout_log_prob,
                       p.entropy, p.grad_log_prob, p.grad_entropy);
  std::vector<double> rows(B * kRowWidth);
  double tot[kRowWidth + 1] = {};
  for (size_t b = 0; b < B; ++b) {
    double v[kRowWidth] = {};
    for (size_t t = 0; t < T; ++t) op.RowStats(b * T + t, cov, gspo, v);
    if (cov && p.seq_advantages) v[kRowAdv] = static_cast<double>(p.advantages[b]) * v[kRowTokens];
    for (int k = 0; k < kRowWidth; ++k) rows[b * kRowWidth + k] = v[k], tot[k] += v[k];
    tot[kRowWidth] += v[kRowTokens] > 0 ? 1.0 : 0.0;
  }
  const double N = tot[kRowTokens], S = tot[kRowWidth];
  size_t n_sel = 0;
  std::vector<uint8_t> sel;
  if (cov) {
    const double mean_a = tot[kRowAdv] / N, mean_lp = tot[kRowLogp] / N;
    std::vector<uint8_t> candidate(n);
    std::vector<double> key(n);
    for (size_t i = 0; i < n; ++i) {
      candidate[i] = op.ClipCovCandidate(i / T, i, mean_a, mean_lp) ? 1 : 0;
      key[i] = op.Cov(i / T, i, mean_a, mean_lp);
    }
    n_sel = SelectCov(p.kind, n, N, p.cov_ratio, p.seed, candidate.data(), key.data(), p.mask, sel);
    op.sel = sel.data();
  }
  double out[kOutWidth], t_out[kOutWidth] = {};
  for (size_t b = 0; b < B; ++b) {
    const double n_b = rows[b * kRowWidth + kRowTokens];
    const RowCtx c = op.Row(n_b, rows[b * kRowWidth + kRowLogRatio], N, S);
    double v[kTokWidth] = {};
    for (size_t t = 0; t < T; ++t) op.Token(b, b * T + t, c, v);
    if (c.gspo_grad) {
      const float add = op.GspoAdd(c, v[kGspoG], n_b);
      for (size_t t = 0; t < T; ++t)
        if (op.On(b * T + t)) op.grad[b * T + t] += add;
    }
    op.RowOutputs(c, n_b, v, out);
    for (int k = 0; k < kOutWidth; ++k) t_out[k] += out[k];
  }
  FinishStats(p, N, S, n_sel, t_out);
}
}  // namespace rlcore::cuda
