// Fused optimiser steps and parameter-vector kernels: one pass over params, grads and
// optimiser state. Plain data; no N-API.
#pragma once
#include <cstddef>

namespace rlcore::nn {

/// Adam (Kingma & Ba 2015, arXiv:1412.6980); AdamW when `decoupled` (Loshchilov & Hutter 2019,
/// arXiv:1711.05101). For step t >= 1:
///   Adam:  g += wd p          AdamW: p *= 1 - lr wd
///   m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
///   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
struct AdamProblem {
  size_t n = 0;
  float *params = nullptr, *m = nullptr, *v = nullptr;
  const float* grads = nullptr;
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;
  double step = 1;
};
void AdamCpu(const AdamProblem& p);

/// SGD with momentum (PyTorch's form; Sutskever et al. 2013):
///   g += wd p;  buf = first ? g : mu buf + (1 - dampening) g;  g = nesterov ? g + mu buf : buf;
///   p -= lr g.   Without a buffer (mu = 0): p -= lr (g + wd p).
struct SgdProblem {
  size_t n = 0;
  float *params = nullptr, *buf = nullptr;
  const float* grads = nullptr;
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, first = false;
};
void SgdCpu(const SgdProblem& p);

/// sqrt(sum g^2) over n values, in float64, summed in fixed blocks (same result for any thread count).
double GlobalNormCpu(const float* g, size_t n);
/// g *= s.
void ScaleCpu(float* g, size_t n, float s);
/// target = (1 - tau) target + tau source (tau = 1: an exact copy).
void PolyakCpu(float* target, const float* source, size_t n, double tau);

}  // namespace rlcore::nn
