// CPU-only builds (node-gyp): the CUDA backend is absent.
#ifndef RLCORE_WITH_CUDA
#include "../../cuda/backend.h"

namespace rlcore::cuda {
bool Built() { return false; }
std::vector<DeviceInfo> Devices(std::string* error) {
  *error = "this addon was built without CUDA (build it with `npm run build:cuda`)";
  return {};
}
}  // namespace rlcore::cuda
#endif
