// N-API binding of the batched environments (vector_env.h).
//
//   envIds() -> string[]
//   envCreate(id, numEnvs, seed, options) -> handle { numEnvs, obsDim, stateDim, discrete,
//       maxEpisodeSteps, bind, step, reset, getState, setState }
//
// The output arrays are bound once (`bind`) so that `step()` takes no arguments: at N = 1 the
// cost of a step is the call itself. The handle's functions each own a share of the native
// state, so it lives as long as any of them. Before each step the bound buffers are looked up
// again, so a detached or shrunk buffer is an ERR_ARG, never a stray write.
#include "vector_env.h"

#include <algorithm>
#include <new>
#include <stdexcept>

#include "../core/binding.h"

namespace rlcore {
namespace envs {
namespace {

std::vector<EnvFactory>& Factories() {
  static std::vector<EnvFactory> factories;
  return factories;
}

constexpr size_t kSlots = 6;  // actions, obs, rewards, terminated, truncated, finalObs
const char* const kSlotNames[kSlots] = {"actions", "observations", "rewards", "terminated", "truncated",
                                        "finalObservations"};

struct Core {
  std::string id;
  std::unique_ptr<BatchEnv> env;
  uint32_t max_steps = 0;
  bool bound = false;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> buffers;  // distinct backing buffers
  std::vector<size_t> buffer_need;                          // bytes each buffer must still hold
  size_t slot_buffer[kSlots] = {}, slot_offset[kSlots] = {};

  // Current addresses of the bound arrays.
  void Resolve(Napi::Env env, StepIo* io) {
    if (!bound) ThrowError(env, "ERR_ARG", id + ": bind the output arrays before reset or step");
    uint8_t* base[8];
    for (size_t b = 0; b < buffers.size(); ++b) {
      // Raw calls: one lookup of data and length per buffer (this is most of a step at N = 1).
      napi_value ab = nullptr;
      void* data = nullptr;
      size_t length = 0;
      if (napi_get_reference_value(env, buffers[b], &ab) != napi_ok || ab == nullptr ||
          napi_get_arraybuffer_info(env, ab, &data, &length) != napi_ok) {
        data = nullptr;
      }
      base[b] = static_cast<uint8_t*>(data);
      if (base[b] == nullptr || length < buffer_need[b]) {
        ThrowError(env, "ERR_ARG", id + ": a bound output array was detached or resized; bind new arrays");
      }
    }
    void* p[kSlots];
    for (size_t k = 0; k < kSlots; ++k) p[k] = base[slot_buffer[k]] + slot_offset[k];
    io->actions = p[0];
    io->obs = static_cast<float*>(p[1]);
    io->rewards = static_cast<float*>(p[2]);
    io->terminated = static_cast<uint8_t*>(p[3]);
    io->truncated = static_cast<uint8_t*>(p[4]);
    io->final_obs = static_cast<float*>(p[5]);
  }
};

struct Holder {
  std::shared_ptr<Core> core;
};

Core& CoreOf(const Napi::CallbackInfo& info) { return *static_cast<Holder*>(info.Data())->core; }

// bind(actions, observations, rewards, terminated, truncated, finalObservations)
Napi::Value Bind(const Napi::CallbackInfo& info) {
  Core& c = CoreOf(info);
  Napi::Env env = info.Env();
  const char* k = "envBind";
  const size_t N = c.env->NumEnvs(), D = c.env->ObsDim();
  const std::string n_shape = ShapeText("[N]", {N}), nd_shape = ShapeText("[N, obsDim]", {N, D});
  Napi::TypedArray arrays[kSlots];
  size_t bytes[kSlots];
  const void* data[kSlots];
  if (c.env->Discrete()) {
    data[0] = I32Arg(info, 0, k, "actions", false, N, n_shape).data;
    bytes[0] = N * 4;
  } else {
    data[0] = F32Arg(info, 0, k, "actions", false, N, n_shape).data;
    bytes[0] = N * 4;
  }
  data[1] = F32Arg(info, 1, k, "observations", false, N * D, nd_shape).data, bytes[1] = N * D * 4;
  data[2] = F32Arg(info, 2, k, "rewards", false, N, n_shape).data, bytes[2] = N * 4;
  data[3] = U8Arg(info, 3, k, "terminated", false, N, n_shape).data, bytes[3] = N;
  data[4] = U8Arg(info, 4, k, "truncated", false, N, n_shape).data, bytes[4] = N;
  data[5] = F32Arg(info, 5, k, "finalObservations", false, N * D, nd_shape).data, bytes[5] = N * D * 4;
  for (size_t a = 0; a < kSlots; ++a) {
    arrays[a] = info[a].As<Napi::TypedArray>();
    for (size_t b = 0; b < a; ++b) CheckNoOverlap(env, k, kSlotNames[a], data[a], bytes[a], kSlotNames[b], data[b], bytes[b]);
  }
  std::vector<Napi::Reference<Napi::ArrayBuffer>> buffers;
  std::vector<size_t> need;
  size_t slot_buffer[kSlots], slot_offset[kSlots];
  for (size_t a = 0; a < kSlots; ++a) {
    Napi::ArrayBuffer ab = arrays[a].ArrayBuffer();
    size_t b = 0;
    while (b < buffers.size() && !buffers[b].Value().StrictEquals(ab)) ++b;
    if (b == buffers.size()) {
      buffers.push_back(Napi::Persistent(ab));
      need.push_back(0);
    }
    slot_buffer[a] = b;
    slot_offset[a] = arrays[a].ByteOffset();
    need[b] = std::max(need[b], slot_offset[a] + bytes[a]);
  }
  c.buffers = std::move(buffers);
  c.buffer_need = std::move(need);
  std::copy(slot_buffer, slot_buffer + kSlots, c.slot_buffer);
  std::copy(slot_offset, slot_offset + kSlots, c.slot_offset);
  c.bound = true;
  return env.Undefined();
}

// step(): reads the bound actions, writes the bound outputs.
Napi::Value Step(const Napi::CallbackInfo& info) {
  Core& c = CoreOf(info);
  Napi::Env env = info.Env();
  StepIo io;
  c.Resolve(env, &io);
  if (!c.env->ActionsValid(io.actions)) ThrowError(env, "ERR_RANGE", c.id + ": " + c.env->ActionError(io.actions));
  c.env->Step(io);
  return env.Undefined();
}

uint64_t SeedArg(const Napi::CallbackInfo& info, size_t i, const char* k) {
  const double seed = NumberArg(info, i, k, "seed", 0, 9007199254740991.0);
  if (std::floor(seed) != seed) ThrowError(info.Env(), "ERR_RANGE", std::string(k) + ": seed must be an integer");
  return static_cast<uint64_t>(seed);
}

// reset(seed?): re-seeds (copy i: seed + i) when a seed is given, resets every copy.
Napi::Value Reset(const Napi::CallbackInfo& info) {
  Core& c = CoreOf(info);
  Napi::Env env = info.Env();
  StepIo io;
  c.Resolve(env, &io);
  if (info.Length() > 0 && !info[0].IsUndefined() && !info[0].IsNull()) c.env->Seed(SeedArg(info, 0, "envReset"));
  c.env->ResetAll(io.obs);
  return env.Undefined();
}

size_t IndexArg(const Napi::CallbackInfo& info, const Core& c, const char* k) {
  const double i = NumberArg(info, 0, k, "index", 0, static_cast<double>(c.env->NumEnvs() - 1));
  if (std::floor(i) != i) ThrowError(info.Env(), "ERR_RANGE", std::string(k) + ": index must be an integer");
  return static_cast<size_t>(i);
}

// getState(index, out: Float64Array(stateDim + 1)): physical state, then the episode's step count.
Napi::Value GetState(const Napi::CallbackInfo& info) {
  Core& c = CoreOf(info);
  const char* k = "envGetState";
  const size_t i = IndexArg(info, c, k);
  const size_t S = c.env->StateDim() + 1;
  ArrayArg<double> out = F64Arg(info, 1, k, "out", false, S, ShapeText("[stateDim + 1]", {S}));
  c.env->GetState(i, out.data);
  return info.Env().Undefined();
}

// setState(index, state: Float64Array(stateDim + 1)); also rewrites the bound observation row.
Napi::Value SetState(const Napi::CallbackInfo& info) {
  Core& c = CoreOf(info);
  Napi::Env env = info.Env();
  const char* k = "envSetState";
  const size_t i = IndexArg(info, c, k);
  const size_t S = c.env->StateDim() + 1;
  ArrayArg<double> in = F64Arg(info, 1, k, "state", false, S, ShapeText("[stateDim + 1]", {S}));
  for (size_t j = 0; j + 1 < S; ++j) {
    if (!std::isfinite(in.data[j])) {
      ThrowError(env, "ERR_RANGE", c.id + ": state[" + std::to_string(j) + "] must be finite; received " + std::to_string(in.data[j]));
    }
  }
  const double steps = in.data[S - 1];
  if (!(steps >= 0 && steps < c.max_steps) || std::floor(steps) != steps) {
    ThrowError(env, "ERR_RANGE", c.id + ": the step count (last element) must be an integer in [0, " +
                                     std::to_string(c.max_steps) + "); received " + std::to_string(steps));
  }
  StepIo io;
  if (c.bound) c.Resolve(env, &io);
  c.env->SetState(i, in.data);
  if (c.bound) c.env->Observe(i, io.obs + i * c.env->ObsDim());
  return env.Undefined();
}

Napi::Value EnvIdsBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> ids = EnvIds();
  Napi::Array out = Napi::Array::New(env, ids.size());
  for (size_t i = 0; i < ids.size(); ++i) out.Set(static_cast<uint32_t>(i), ids[i]);
  return out;
}

Napi::Function Method(Napi::Env env, const char* name, Napi::Value (*fn)(const Napi::CallbackInfo&),
                      const std::shared_ptr<Core>& core) {
  auto* holder = new Holder{core};
  Napi::Function f = Napi::Function::New(env, fn, name, holder);
  f.AddFinalizer([](Napi::Env, Holder* h) { delete h; }, holder);
  return f;
}

// envCreate(id, numEnvs, seed, options)
Napi::Value EnvCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* k = "envCreate";
  if (info.Length() < 1 || !info[0].IsString()) ThrowError(env, "ERR_ARG", "envCreate: id must be a string");
  const std::string id = info[0].As<Napi::String>().Utf8Value();
  const EnvFactory* factory = FindEnv(id);
  if (factory == nullptr) {
    std::string known;
    for (const std::string& s : EnvIds()) known += (known.empty() ? "" : ", ") + s;
    ThrowError(env, "ERR_ARG", "envCreate: unknown native environment '" + id + "'; known: " + known);
  }
  const size_t n = SizeArg(info, 1, k, "numEnvs");
  if (n > (1u << 24)) ThrowError(env, "ERR_RANGE", "envCreate: numEnvs must be at most 16777216; received " + std::to_string(n));
  const uint64_t seed = SeedArg(info, 2, k);
  EnvOptions options;
  if (info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull()) {
    if (!info[3].IsObject()) ThrowError(env, "ERR_ARG", "envCreate: options must be an object");
    Napi::Object o = info[3].As<Napi::Object>();
    Napi::Array names = o.GetPropertyNames();
    for (uint32_t j = 0; j < names.Length(); ++j) {
      const std::string name = names.Get(j).ToString().Utf8Value();
      Napi::Value v = o.Get(name);
      if (v.IsUndefined()) continue;
      if (v.IsBoolean()) options[name] = v.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
      else if (v.IsNumber()) options[name] = v.As<Napi::Number>().DoubleValue();
      else ThrowError(env, "ERR_ARG", id + ": option " + name + " must be a number or a boolean");
    }
  }
  auto core = std::make_shared<Core>();
  core->id = id;
  try {
    const double max_steps = TakeOption(&options, "maxEpisodeSteps", factory->max_steps, 1, 2147483647.0);
    if (std::floor(max_steps) != max_steps) throw std::invalid_argument("option maxEpisodeSteps must be an integer");
    core->max_steps = static_cast<uint32_t>(max_steps);
    core->env = factory->create(n, seed, core->max_steps, &options);
    if (!options.empty()) throw std::invalid_argument("unknown option '" + options.begin()->first + "'");
  } catch (const std::invalid_argument& e) {
    ThrowError(env, "ERR_RANGE", id + ": " + e.what());
  } catch (const std::bad_alloc&) {
    ThrowError(env, "ERR_RANGE", id + ": not enough memory for " + std::to_string(n) + " copies");
  }
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("numEnvs", static_cast<double>(n));
  handle.Set("obsDim", static_cast<double>(core->env->ObsDim()));
  handle.Set("stateDim", static_cast<double>(core->env->StateDim()));
  handle.Set("discrete", core->env->Discrete());
  handle.Set("maxEpisodeSteps", static_cast<double>(core->max_steps));
  handle.Set("bind", Method(env, "bind", Bind, core));
  handle.Set("step", Method(env, "step", Step, core));
  handle.Set("reset", Method(env, "reset", Reset, core));
  handle.Set("getState", Method(env, "getState", GetState, core));
  handle.Set("setState", Method(env, "setState", SetState, core));
  return handle;
}

}  // namespace

double TakeOption(EnvOptions* options, const char* name, double fallback, double lo, double hi) {
  auto it = options->find(name);
  if (it == options->end()) return fallback;
  const double v = it->second;
  options->erase(it);
  if (!(v >= lo && v <= hi)) {
    throw std::invalid_argument(std::string("option ") + name + " must be finite and in [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "]; received " + std::to_string(v));
  }
  return v;
}

EnvRegistration::EnvRegistration(EnvFactory factory) { Factories().push_back(factory); }

const EnvFactory* FindEnv(const std::string& id) {
  for (const EnvFactory& f : Factories())
    if (id == f.id) return &f;
  return nullptr;
}

std::vector<std::string> EnvIds() {
  std::vector<std::string> ids;
  for (const EnvFactory& f : Factories()) ids.push_back(f.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

RLCORE_EXPORT(envIds, EnvIdsBinding);
RLCORE_EXPORT(envCreate, EnvCreate);

}  // namespace envs
}  // namespace rlcore
