// The CUDA side of rlcore as seen from the C++ binding. Every entry point works on host
// pointers: it copies inputs to the device, runs the kernel, and copies results back.
// In a build without CUDA (RLCORE_WITH_CUDA undefined) Built() is false and Devices() is empty.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rlcore {
struct GaeProblem;
}

namespace rlcore::cuda {

struct DeviceInfo {
  std::string name;
  std::string compute_capability;
  size_t memory_bytes = 0;
};

/// True when this addon was compiled with the CUDA kernels.
bool Built();
/// Visible CUDA devices; on failure (no driver, no device) returns none and sets *error.
std::vector<DeviceInfo> Devices(std::string* error);

// Kernel entry points (defined only in CUDA builds). They throw std::runtime_error on CUDA errors.
void Gae(const GaeProblem& p);

}  // namespace rlcore::cuda
