// Host-side stand-ins for the device-level pieces, so the kernel functors of cuda/*.cu (which are
// __host__ __device__) can be checked against the CPU kernels on a machine without a GPU:
// HostScan runs a functor through the plain sequential recursion y = a + c * y.
#pragma once
#include "../inputs.cuh"
#include "../scan.cuh"

namespace rlcore::cuda {

template <class Op>
void HostScan(const Op& op, size_t T, size_t N) {
  for (size_t n = 0; n < N; ++n) {
    double y = op.Boundary(n);
    for (size_t t = T; t-- > 0;) {
      double a, c;
      op.Coefs(t, n, a, c);
      y = Apply(Affine{a, c}, y);
      op.Write(t, n, y);
    }
  }
}

/// The NextValues view the CUDA entry points build, over host arrays.
inline NextValues HostNextValues(size_t T, size_t N, const float* values, const float* next_values,
                                 const float* last_values, const float* final_values, const uint8_t* truncated) {
  return NextValues{T, N, values, next_values, last_values, (truncated && !next_values) ? final_values : nullptr};
}

}  // namespace rlcore::cuda
