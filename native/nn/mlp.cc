// Forward and backward passes of a Sequential network over a batch, and its N-API binding.
//
//   Linear:    y = x W^T + b                 dW += dz^T x,  db += sum_b dz,  dx = dz W
//   Tanh:      y = tanh(x)                   dx = dy (1 - y^2)
//   ReLU:      y = max(x, 0)                 dx = dy [y > 0]
//   LayerNorm: y = gamma xhat + beta         (see layers.h)
//
// An activation that follows a Linear or LayerNorm is fused into it (applied in the GEMM
// epilogue), so the training cache holds one array per stage: its output, from which both the
// activation's derivative and the next layer's weight gradient are computed.
#include "mlp.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <sstream>

#include "../core/binding.h"
#include "../core/thread_pool.h"
#include "fast_args.h"
#include "layers.h"
#include "mlp_handle.h"

namespace rlcore::nn {

Mlp::Mlp(size_t input_size, const std::vector<LayerKind>& kinds, const std::vector<size_t>& sizes, float ln_eps)
    : input_size_(input_size), ln_eps_(ln_eps), max_width_(input_size) {
  size_t d = input_size;
  for (size_t l = 0; l < kinds.size(); ++l) {
    Stage s;
    s.kind = kinds[l];
    s.in = d;
    switch (kinds[l]) {
      case LayerKind::kLinear:
        s.out = sizes[l];
        s.w_offset = num_params_;
        s.b_offset = num_params_ + s.out * d;
        num_params_ += s.out * d + s.out;
        break;
      case LayerKind::kLayerNorm:
        s.out = d;
        s.w_offset = num_params_;
        s.b_offset = num_params_ + d;
        num_params_ += 2 * d;
        break;
      case LayerKind::kTanh:
      case LayerKind::kRelu: {
        const Act act = kinds[l] == LayerKind::kTanh ? Act::kTanh : Act::kRelu;
        if (!stages_.empty() && stages_.back().kind != LayerKind::kTanh && stages_.back().act == Act::kNone) {
          stages_.back().act = act;
          continue;
        }
        s.kind = LayerKind::kTanh;  // a lone activation stage
        s.out = d;
        s.act = act;
        break;
      }
    }
    d = s.out;
    max_width_ = std::max(max_width_, d);
    stages_.push_back(s);
  }
  outputs_.resize(stages_.size());
  xhat_.resize(stages_.size());
  rstd_.resize(stages_.size());
}

namespace {
template <class T>
void Grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}
}  // namespace

void Mlp::PrepareTrain(size_t batch) {
  Grow(input_cache_, batch * input_size_);
  for (size_t s = 0; s < stages_.size(); ++s) {
    Grow(outputs_[s], batch * stages_[s].out);
    if (stages_[s].kind == LayerKind::kLayerNorm) {
      Grow(xhat_[s], batch * stages_[s].out);
      Grow(rstd_[s], batch);
    }
  }
  Grow(ping_, batch * max_width_);
  Grow(pong_, batch * max_width_);
  Grow(dz_, batch * max_width_);
  Grow(colsum_, max_width_);
  ws_.ReserveForPool();
}

void Mlp::PrepareInfer(size_t batch) {
  if (stages_.size() > 1) Grow(ping_, batch * max_width_);
  if (stages_.size() > 2) Grow(pong_, batch * max_width_);
  if (batch > 4) ws_.ReserveForPool();
}

void Mlp::Forward(const float* params, const float* x, float* out, size_t batch, bool train) {
  const size_t S = stages_.size();
  if (train) {
    cached_batch_ = 0;
    std::memcpy(input_cache_.data(), x, batch * input_size_ * sizeof(float));
    x = input_cache_.data();
  }
  if (S == 0) {
    std::memmove(out, x, batch * input_size_ * sizeof(float));
    if (train) cached_batch_ = batch;
    return;
  }
  const float* cur = x;
  for (size_t s = 0; s < S; ++s) {
    const Stage& st = stages_[s];
    float* dst = train ? outputs_[s].data() : s + 1 == S ? out : (s % 2 == 0 ? ping_.data() : pong_.data());
    switch (st.kind) {
      case LayerKind::kLinear: {
        GemmProblem g;
        g.M = batch, g.N = st.out, g.K = st.in;
        g.A = {cur, st.in, 1};
        g.B = {params + st.w_offset, 1, st.in};
        g.C = dst, g.ldc = st.out;
        g.bias = params + st.b_offset;
        g.act = st.act;
        Gemm(g, ws_);
        break;
      }
      case LayerKind::kLayerNorm:
        LayerNormForward(cur, params + st.w_offset, params + st.b_offset, ln_eps_, st.act, dst,
                         train ? xhat_[s].data() : nullptr, train ? rstd_[s].data() : nullptr, batch, st.out);
        break;
      default: {
        const size_t n = batch * st.out;
        auto run = [&](size_t i0, size_t i1) {
          std::memcpy(dst + i0, cur + i0, (i1 - i0) * sizeof(float));
          ApplyAct(st.act, dst + i0, i1 - i0);
        };
        if (n < (1u << 15)) run(0, n);
        else ParallelFor(n, 1 << 13, run);
      }
    }
    cur = dst;
  }
  if (train) {
    std::memcpy(out, cur, batch * OutputSize() * sizeof(float));
    cached_batch_ = batch;
  }
}

void Mlp::Backward(const float* params, float* grads, const float* dout, float* dx, size_t batch) {
  const size_t S = stages_.size();
  if (S == 0) {
    if (dx) std::memmove(dx, dout, batch * input_size_ * sizeof(float));
    return;
  }
  if (!grads && !dx) return;
  const float* dy = dout;
  for (size_t s = S; s-- > 0;) {
    const Stage& st = stages_[s];
    const bool need_dx = s > 0 || dx != nullptr;
    if (!need_dx && !grads) break;
    const float* X = s == 0 ? input_cache_.data() : outputs_[s - 1].data();
    const float* Y = outputs_[s].data();
    float* dxs = s == 0 ? dx : (s % 2 == 0 ? ping_.data() : pong_.data());
    const size_t n = batch * st.out;
    if (st.kind == LayerKind::kTanh) {  // lone activation
      if (need_dx) ActBackward(st.act, Y, dy, dxs, n);
      dy = dxs;
      continue;
    }
    const float* dz = dy;
    if (st.act != Act::kNone) {
      ActBackward(st.act, Y, dy, dz_.data(), n);
      dz = dz_.data();
    }
    if (st.kind == LayerKind::kLinear) {
      const float* W = params + st.w_offset;
      if (grads) {
        GemmProblem g;
        g.M = st.out, g.N = st.in, g.K = batch;
        g.A = {dz, 1, st.out};
        g.B = {X, st.in, 1};
        g.C = grads + st.w_offset, g.ldc = st.in;
        g.accumulate = true;
        Gemm(g, ws_);
        ColumnSumAccumulate(dz, nullptr, grads + st.b_offset, batch, st.out, colsum_.data());
      }
      if (need_dx) {
        GemmProblem g;
        g.M = batch, g.N = st.in, g.K = st.out;
        g.A = {dz, st.out, 1};
        g.B = {W, st.in, 1};
        g.C = dxs, g.ldc = st.in;
        Gemm(g, ws_);
      }
    } else {
      LayerNormBackward(dz, xhat_[s].data(), rstd_[s].data(), params + st.w_offset,
                        grads ? grads + st.w_offset : nullptr, grads ? grads + st.b_offset : nullptr,
                        need_dx ? dxs : nullptr, batch, st.out, colsum_.data());
    }
    dy = dxs;
  }
}

namespace {

// Sync calls run inline without building a keep-alive list (batch-1 latency matters).
template <class F>
Napi::Value Dispatch(const Napi::CallbackInfo& info, bool async, MlpHandle* h, F&& work,
                     std::vector<Napi::Value> keep) {
  if (!async) {
    BusyGuard guard{h};
    try {
      work();
    } catch (const std::exception& e) {
      ThrowError(info.Env(), "ERR_NATIVE", e.what());
    }
    return info.Env().Undefined();
  }
  return RunKernel(info, true, [h, work] {
    BusyGuard guard{h};
    work();
  }, std::move(keep));
}

// nnMlpCreate(inputSize, kinds: Int32Array, sizes: Int32Array, lnEps, useCuda, async) -> handle
Napi::Value CreateBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnMlpCreate";
  Napi::Env env = info.Env();
  const size_t input = SizeArg(info, 0, kKernel, "inputSize");
  ArrayArg<int32_t> kinds = I32Arg(info, 1, kKernel, "kinds", false, SIZE_MAX, "");
  ArrayArg<int32_t> sizes = I32Arg(info, 2, kKernel, "sizes", false, kinds.length, ShapeText("[L]", {kinds.length}));
  const double eps = NumberArg(info, 3, kKernel, "lnEps", 1e-12, 1.0);
  const bool use_cuda = BoolArg(info, 4);
  CheckDevice(env, kKernel, use_cuda);
  constexpr size_t kMaxWidth = 1 << 20;
  if (input > kMaxWidth) ThrowError(env, "ERR_RANGE", std::string(kKernel) + ": inputSize must be at most 1048576");
  if (kinds.length > 4096) ThrowError(env, "ERR_RANGE", std::string(kKernel) + ": at most 4096 layers");
  std::vector<LayerKind> k(kinds.length);
  std::vector<size_t> s(kinds.length);
  double params = 0;
  size_t d = input;
  for (size_t l = 0; l < kinds.length; ++l) {
    const int32_t kind = kinds.data[l];
    if (kind < 0 || kind > 3) {
      std::ostringstream msg;
      msg << kKernel << ": kinds[" << l << "] must be 0 (linear), 1 (tanh), 2 (relu) or 3 (layerNorm); received "
          << kind;
      ThrowError(env, "ERR_RANGE", msg.str());
    }
    k[l] = static_cast<LayerKind>(kind);
    if (k[l] == LayerKind::kLinear) {
      if (sizes.data[l] < 1 || static_cast<size_t>(sizes.data[l]) > kMaxWidth) {
        std::ostringstream msg;
        msg << kKernel << ": sizes[" << l << "] (output features) must be in [1, 1048576]; received " << sizes.data[l];
        ThrowError(env, "ERR_RANGE", msg.str());
      }
      s[l] = static_cast<size_t>(sizes.data[l]);
      params += static_cast<double>(s[l]) * (d + 1);
      d = s[l];
    } else if (k[l] == LayerKind::kLayerNorm) {
      params += 2.0 * d;
    }
  }
  if (params > 2147483647.0) ThrowError(env, "ERR_RANGE", std::string(kKernel) + ": more than 2^31 - 1 parameters");
  auto* h = new MlpHandle{Mlp(input, k, s, static_cast<float>(eps))};
  Napi::External<MlpHandle> ext = Napi::External<MlpHandle>::New(env, h, [](Napi::Env, MlpHandle* p) { delete p; });
  napi_type_tag_object(env, ext, &kMlpTag);
  return ext;
}

// nnMlpInfo(handle) -> { numParams, inputSize, outputSize }
Napi::Value InfoBinding(const Napi::CallbackInfo& info) {
  MlpHandle* h = HandleArg(info, 0, "nnMlpInfo");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("numParams", static_cast<double>(h->mlp.NumParams()));
  o.Set("inputSize", static_cast<double>(h->mlp.InputSize()));
  o.Set("outputSize", static_cast<double>(h->mlp.OutputSize()));
  return o;
}

// nnMlpForward(handle, params, input, out, batch, train, useCuda, async)
Napi::Value ForwardBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnMlpForward";
  Napi::Env env = info.Env();
  MlpHandle* h = HandleArg(info, 0, kKernel);
  Mlp& m = h->mlp;
  const size_t B = FastSize(info, 4, kKernel, "batch");
  const size_t P = m.NumParams(), I = m.InputSize(), O = m.OutputSize();
  const float* params = FastF32(info, 1, kKernel, "params", false, P, "[P]", {P});
  const float* x = FastF32(info, 2, kKernel, "input", false, B * I, "[B, in]", {B, I});
  float* out = FastF32(info, 3, kKernel, "out", false, B * O, "[B, out]", {B, O});
  const bool train = BoolArg(info, 5), use_cuda = BoolArg(info, 6), async = BoolArg(info, 7);
  CheckDevice(env, kKernel, use_cuda);
  CheckNoOverlap(env, kKernel, "out", out, B * O * 4, "params", params, P * 4);
  CheckNoOverlap(env, kKernel, "out", out, B * O * 4, "input", x, B * I * 4);
  Acquire(env, h, kKernel);
  try {
    Prepare(env, kKernel, B, [&] { train ? m.PrepareTrain(B) : m.PrepareInfer(B); });
  } catch (...) {
    h->busy.store(false);
    throw;
  }
  if (train) m.InvalidateCache();
  return Dispatch(info, async, h, [&m, params, x, out, B, train] { m.Forward(params, x, out, B, train); },
                  async ? std::vector<Napi::Value>{info[0], info[1], info[2], info[3]} : std::vector<Napi::Value>{});
}

// nnMlpBackward(handle, params, grads?, dOut, dInput?, batch, useCuda, async)
Napi::Value BackwardBinding(const Napi::CallbackInfo& info) {
  constexpr const char* kKernel = "nnMlpBackward";
  Napi::Env env = info.Env();
  MlpHandle* h = HandleArg(info, 0, kKernel);
  Mlp& m = h->mlp;
  const size_t B = FastSize(info, 5, kKernel, "batch");
  const size_t P = m.NumParams(), I = m.InputSize(), O = m.OutputSize();
  const float* params = FastF32(info, 1, kKernel, "params", false, P, "[P]", {P});
  float* grads = FastF32(info, 2, kKernel, "grads", true, P, "[P]", {P});
  const float* dout = FastF32(info, 3, kKernel, "gradOutput", false, B * O, "[B, out]", {B, O});
  float* dx = FastF32(info, 4, kKernel, "gradInput", true, B * I, "[B, in]", {B, I});
  const bool use_cuda = BoolArg(info, 6), async = BoolArg(info, 7);
  CheckDevice(env, kKernel, use_cuda);
  CheckNoOverlap(env, kKernel, "grads", grads, P * 4, "params", params, P * 4);
  CheckNoOverlap(env, kKernel, "grads", grads, P * 4, "gradOutput", dout, B * O * 4);
  CheckNoOverlap(env, kKernel, "gradInput", dx, B * I * 4, "params", params, P * 4);
  CheckNoOverlap(env, kKernel, "gradInput", dx, B * I * 4, "grads", grads, P * 4);
  CheckNoOverlap(env, kKernel, "gradInput", dx, B * I * 4, "gradOutput", dout, B * O * 4);
  Acquire(env, h, kKernel);
  if (m.CachedBatch() != B) {
    h->busy.store(false);
    std::ostringstream msg;
    msg << kKernel << ": backward needs a training-mode forward of the same batch first (batch " << B
        << "; last training forward: " << (m.CachedBatch() ? std::to_string(m.CachedBatch()) : "none") << ")";
    ThrowError(env, "ERR_ARG", msg.str());
  }
  return Dispatch(info, async, h, [&m, params, grads, dout, dx, B] { m.Backward(params, grads, dout, dx, B); },
                  async ? std::vector<Napi::Value>{info[0], info[1], info[2], info[3], info[4]}
                        : std::vector<Napi::Value>{});
}

}  // namespace

RLCORE_EXPORT(nnMlpCreate, CreateBinding);
RLCORE_EXPORT(nnMlpInfo, InfoBinding);
RLCORE_EXPORT(nnMlpForward, ForwardBinding);
RLCORE_EXPORT(nnMlpBackward, BackwardBinding);

}  // namespace rlcore::nn
