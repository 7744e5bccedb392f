// N-API bindings of the replay buffer: a handle (an External tagged with kReplayTag) owning a
// ReplayBuffer, and positional functions over it. Every argument is checked here; data-dependent
// checks (indices, priorities, env ids) run inside the buffer before it changes anything.
#include <cstdio>
#include <memory>
#include <sstream>

#include "../core/binding.h"
#include "replay_buffer.h"

namespace rlcore::replay {
namespace {

const napi_type_tag kReplayTag = {0x5a3c9e1f2b7d4a60ULL, 0x81f4c2d9e06b3a57ULL};

ReplayBuffer* HandleArg(const Napi::CallbackInfo& info, const char* kernel) {
  Napi::Env env = info.Env();
  Napi::Value v = info.Length() > 0 ? info[0] : env.Undefined();
  bool ok = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kReplayTag, &ok);
  if (!ok) ThrowError(env, "ERR_ARG", std::string(kernel) + ": expected a replay buffer handle from replayCreate");
  ReplayBuffer* b = v.As<Napi::External<ReplayBuffer>>().Data();
  if (b->Closed()) ThrowError(env, "ERR_ARG", std::string(kernel) + ": the replay buffer was closed");
  return b;
}

Napi::Value Wrap(Napi::Env env, ReplayBuffer* b) {
  auto ext = Napi::External<ReplayBuffer>::New(env, b, [](Napi::Env, ReplayBuffer* p) { delete p; });
  napi_type_tag_object(env, ext, &kReplayTag);
  return ext;
}

const char* DTypeName(DType d) { return d == DType::kF32 ? "Float32Array" : d == DType::kI32 ? "Int32Array" : "Uint8Array"; }

napi_typedarray_type NapiType(DType d) {
  return d == DType::kF32 ? napi_float32_array : d == DType::kI32 ? napi_int32_array : napi_uint8_array;
}

// A typed array held in a JS value (an element of an array argument); null when optional and absent.
uint8_t* TypedValue(Napi::Env env, Napi::Value v, const char* kernel, const std::string& name, DType dtype,
                    size_t expected, bool optional) {
  if (optional && (v.IsUndefined() || v.IsNull())) return nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (!v.IsTypedArray() || napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != NapiType(dtype)) {
    ThrowError(env, "ERR_DTYPE", std::string(kernel) + ": " + name + " must be a " + DTypeName(dtype));
  }
  if (length != expected) {
    std::ostringstream msg;
    msg << kernel << ": " << name << " must have " << expected << " elements; received " << length;
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  return static_cast<uint8_t*>(data);
}

template <class F>
auto Guard(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const ReplayError& e) {
    ThrowError(env, e.code, e.what());
  } catch (const cuda::DeviceUnavailable& e) {
    ThrowError(env, "ERR_DEVICE", e.what());
  } catch (const std::bad_alloc&) {
    ThrowError(env, "ERR_RANGE", "replay: cannot allocate the buffer's memory (capacity too large for this machine)");
  } catch (const std::exception& e) {
    ThrowError(env, "ERR_NATIVE", e.what());
  }
}

// replayCreate(capacity, names: string[], dtypes: Int32Array, widths: Int32Array, numEnvs,
//              prioritized, alpha, eps, seed, useCuda?) -> handle
Napi::Value CreateBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replayCreate";
  Napi::Env env = info.Env();
  const size_t capacity = SizeArg(info, 0, k, "capacity");
  if (capacity > 2147483647u) ThrowError(env, "ERR_RANGE", "replayCreate: capacity must be at most 2^31 - 1");
  if (info.Length() < 2 || !info[1].IsArray()) ThrowError(env, "ERR_ARG", "replayCreate: names must be an array of strings");
  Napi::Array names = info[1].As<Napi::Array>();
  const size_t nf = names.Length();
  ArrayArg<int32_t> dtypes = I32Arg(info, 2, k, "dtypes", false, nf, ShapeText("[F]", {nf}));
  ArrayArg<int32_t> widths = I32Arg(info, 3, k, "widths", false, nf, ShapeText("[F]", {nf}));
  const size_t num_envs = SizeArg(info, 4, k, "numEnvs");
  const bool prioritized = BoolArg(info, 5);
  const double alpha = NumberArg(info, 6, k, "alpha", 0, 10);
  const double eps = NumberArg(info, 7, k, "eps", 1e-300, 1e6);
  if (eps <= 0) ThrowError(env, "ERR_RANGE", "replayCreate: eps must be > 0");
  const double seed = NumberArg(info, 8, k, "seed", 0, 9007199254740992.0);
  const bool use_cuda = BoolArg(info, 9);
  CheckDevice(env, k, use_cuda);
  if (nf < kFixedFields || nf > 1024) ThrowError(env, "ERR_ARG", "replayCreate: expected the six fixed fields and at most 1018 extras");
  if (num_envs > (1u << 24)) ThrowError(env, "ERR_RANGE", "replayCreate: numEnvs must be at most 2^24");
  std::vector<Field> fields(nf);
  for (size_t f = 0; f < nf; ++f) {
    Napi::Value n = names[f];
    if (!n.IsString()) ThrowError(env, "ERR_ARG", "replayCreate: names must be strings");
    fields[f].name = n.As<Napi::String>().Utf8Value();
    if (dtypes.data[f] < 0 || dtypes.data[f] > 2) ThrowError(env, "ERR_RANGE", "replayCreate: dtypes must be 0 (f32), 1 (i32) or 2 (u8)");
    if (widths.data[f] < 1 || widths.data[f] > (1 << 24)) ThrowError(env, "ERR_RANGE", "replayCreate: widths must be in [1, 2^24]");
    fields[f].dtype = static_cast<DType>(dtypes.data[f]);
    fields[f].width = static_cast<size_t>(widths.data[f]);
  }
  const bool fixed_ok = fields[kObs].dtype == DType::kF32 && fields[kNextObs].dtype == DType::kF32 &&
                        fields[kObs].width == fields[kNextObs].width && fields[kReward].dtype == DType::kF32 &&
                        fields[kReward].width == 1 && fields[kTerminated].dtype == DType::kU8 &&
                        fields[kTerminated].width == 1 && fields[kTruncated].dtype == DType::kU8 &&
                        fields[kTruncated].width == 1;
  if (!fixed_ok) ThrowError(env, "ERR_ARG", "replayCreate: fields 0..5 must be obs (f32), action, reward (f32 [1]), next obs (f32, as obs), terminated (u8 [1]), truncated (u8 [1])");
  size_t row_bytes = 8;
  for (const Field& f : fields) row_bytes += f.RowBytes();
  CheckedProduct(env, k, ShapeText("[capacity, row bytes]", {capacity, row_bytes}));
  return Wrap(env, new ReplayBuffer(capacity, std::move(fields), num_envs, prioritized, alpha, eps,
                                    static_cast<uint64_t>(seed), use_cuda));
}

// replayInfo(h) -> { capacity, size, total, numEnvs, prioritized, alpha, eps, maxPriority, prioritySum, priorityMin, episodes, fields, device }
Napi::Value InfoBinding(const Napi::CallbackInfo& info) {
  ReplayBuffer* b = HandleArg(info, "replayInfo");
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("capacity", static_cast<double>(b->Capacity()));
  o.Set("size", static_cast<double>(b->Size()));
  o.Set("total", static_cast<double>(b->Total()));
  o.Set("numEnvs", static_cast<double>(b->NumEnvs()));
  o.Set("prioritized", b->Prioritized());
  o.Set("alpha", b->Alpha());
  o.Set("eps", b->Eps());
  o.Set("maxPriority", b->MaxPriority());
  o.Set("prioritySum", b->PrioritySum());
  o.Set("priorityMin", b->PriorityMin());
  o.Set("episodes", static_cast<double>(b->NumEpisodes()));
  Napi::Array fields = Napi::Array::New(env, b->Fields().size());
  for (size_t f = 0; f < b->Fields().size(); ++f) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", b->Fields()[f].name);
    d.Set("dtype", static_cast<double>(static_cast<int32_t>(b->Fields()[f].dtype)));
    d.Set("width", static_cast<double>(b->Fields()[f].width));
    fields.Set(static_cast<uint32_t>(f), d);
  }
  o.Set("fields", fields);
  o.Set("device", b->OnDevice() ? "cuda" : "cpu");
  return o;
}

// replayAdd(h, arrays: TypedArray[] (one per field, [rows, width]), rows, finalObs?, envIds?)
Napi::Value AddBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replayAdd";
  Napi::Env env = info.Env();
  ReplayBuffer* b = HandleArg(info, k);
  if (info.Length() < 2 || !info[1].IsArray()) ThrowError(env, "ERR_ARG", "replayAdd: arrays must be an array of typed arrays");
  Napi::Array arrays = info[1].As<Napi::Array>();
  const size_t rows = SizeArg(info, 2, k, "rows");
  const auto& fields = b->Fields();
  if (arrays.Length() != fields.size()) ThrowError(env, "ERR_ARG", "replayAdd: expected one array per field");
  InsertBatch batch;
  batch.rows = rows;
  for (size_t f = 0; f < fields.size(); ++f) {
    const size_t n = CheckedProduct(env, k, ShapeText("[rows, width]", {rows, fields[f].width}));
    batch.fields.push_back(TypedValue(env, arrays[f], k, fields[f].name, fields[f].dtype, n, false));
  }
  batch.final_obs = reinterpret_cast<const uint8_t*>(
      F32Arg(info, 3, k, "finalObservations", true, rows * fields[kObs].width, ShapeText("[rows, obsDim]", {rows, fields[kObs].width})).data);
  batch.env_ids = I32Arg(info, 4, k, "envIds", true, rows, ShapeText("[rows]", {rows})).data;
  if (!batch.env_ids && rows > b->NumEnvs()) {
    std::ostringstream msg;
    msg << k << ": " << rows << " rows without envIds need rows <= numEnvs (" << b->NumEnvs() << "): row i is env i";
    ThrowError(env, "ERR_SHAPE", msg.str());
  }
  Guard(env, [&] { b->Add(batch); });
  return env.Undefined();
}

// replaySample(h, batch, uniform, beta, outRows: Int32Array [B], outWeights?: Float32Array [B])
Napi::Value SampleBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replaySample";
  Napi::Env env = info.Env();
  ReplayBuffer* b = HandleArg(info, k);
  const size_t batch = SizeArg(info, 1, k, "batch");
  const bool uniform = BoolArg(info, 2);
  const double beta = NumberArg(info, 3, k, "beta", 0, 1e6);
  int32_t* rows = I32Arg(info, 4, k, "out.indices", false, batch, ShapeText("[B]", {batch})).data;
  float* weights = F32Arg(info, 5, k, "out.weights", true, batch, ShapeText("[B]", {batch})).data;
  CheckNoOverlap(env, k, "out.indices", rows, batch * 4, "out.weights", weights, weights ? batch * 4 : 0);
  Guard(env, [&] { b->Sample(batch, uniform, beta, rows, weights); });
  return env.Undefined();
}

// replayGather(h, rows: Int32Array [B], outs: (TypedArray|undefined)[] per field, n, gamma, discounts?: Float32Array [B])
Napi::Value GatherBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replayGather";
  Napi::Env env = info.Env();
  ReplayBuffer* b = HandleArg(info, k);
  ArrayArg<int32_t> rows = I32Arg(info, 1, k, "indices", false, SIZE_MAX, "");
  const size_t count = rows.length;
  if (info.Length() < 3 || !info[2].IsArray()) ThrowError(env, "ERR_ARG", "replayGather: outs must be an array");
  Napi::Array arr = info[2].As<Napi::Array>();
  const auto& fields = b->Fields();
  if (arr.Length() != fields.size()) ThrowError(env, "ERR_ARG", "replayGather: expected one output (or undefined) per field");
  const size_t n = SizeArg(info, 3, k, "n");
  const double gamma = NumberArg(info, 4, k, "gamma", 0, 1);
  float* discounts = F32Arg(info, 5, k, "out.discounts", true, count, ShapeText("[B]", {count})).data;
  std::vector<uint8_t*> outs(fields.size());
  for (size_t f = 0; f < fields.size(); ++f) {
    const size_t len = CheckedProduct(env, k, ShapeText("[B, width]", {count, fields[f].width}));
    outs[f] = TypedValue(env, arr[f], k, "out." + fields[f].name, fields[f].dtype, len, true);
    if (outs[f]) CheckNoOverlap(env, k, ("out." + fields[f].name).c_str(), outs[f], len * DTypeSize(fields[f].dtype), "indices", rows.data, count * 4);
  }
  if (count == 0) return env.Undefined();
  Guard(env, [&] { b->Gather(rows.data, count, outs, n, gamma, discounts); });
  return env.Undefined();
}

// replayUpdatePriorities(h, rows: Int32Array [B], priorities: Float32Array [B])
Napi::Value UpdateBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replayUpdatePriorities";
  Napi::Env env = info.Env();
  ReplayBuffer* b = HandleArg(info, k);
  ArrayArg<int32_t> rows = I32Arg(info, 1, k, "indices", false, SIZE_MAX, "");
  ArrayArg<float> p = F32Arg(info, 2, k, "priorities", false, rows.length, ShapeText("[B]", {rows.length}));
  Guard(env, [&] { b->UpdatePriorities(rows.data, p.data, rows.length); });
  return env.Undefined();
}

// replayPriorities(h, rows: Int32Array [B], out: Float64Array [B]) -> leaves p^α
Napi::Value PrioritiesBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replayPriorities";
  Napi::Env env = info.Env();
  ReplayBuffer* b = HandleArg(info, k);
  ArrayArg<int32_t> rows = I32Arg(info, 1, k, "indices", false, SIZE_MAX, "");
  ArrayArg<double> out = F64Arg(info, 2, k, "out", false, rows.length, ShapeText("[B]", {rows.length}));
  if (!b->Prioritized()) ThrowError(env, "ERR_ARG", "replayPriorities: the buffer is not prioritized");
  for (size_t i = 0; i < rows.length; ++i) {
    if (rows.data[i] < 0 || static_cast<size_t>(rows.data[i]) >= b->Size()) {
      ThrowError(env, "ERR_RANGE", "replayPriorities: indices must be in [0, size)");
    }
  }
  Guard(env, [&] { b->Priorities(rows.data, rows.length, out.data); });
  return env.Undefined();
}

// replaySampleSequences(h, batch, length, masked, outRows: Int32Array [B, L], outMask: Uint8Array [B, L])
Napi::Value SequencesBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replaySampleSequences";
  Napi::Env env = info.Env();
  ReplayBuffer* b = HandleArg(info, k);
  const size_t batch = SizeArg(info, 1, k, "batch"), length = SizeArg(info, 2, k, "length");
  const bool masked = BoolArg(info, 3);
  const size_t n = CheckedProduct(env, k, ShapeText("[B, L]", {batch, length}));
  int32_t* rows = I32Arg(info, 4, k, "out.indices", false, n, ShapeText("[B, L]", {batch, length})).data;
  uint8_t* mask = U8Arg(info, 5, k, "out.mask", false, n, ShapeText("[B, L]", {batch, length})).data;
  Guard(env, [&] { b->SampleSequences(batch, length, masked, rows, mask); });
  return env.Undefined();
}

// replayFollow(h, starts: Int32Array [B], length, outRows [B, L], outMask [B, L])
Napi::Value FollowBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replayFollow";
  Napi::Env env = info.Env();
  ReplayBuffer* b = HandleArg(info, k);
  ArrayArg<int32_t> starts = I32Arg(info, 1, k, "starts", false, SIZE_MAX, "");
  const size_t length = SizeArg(info, 2, k, "length");
  const size_t n = CheckedProduct(env, k, ShapeText("[B, L]", {starts.length, length}));
  int32_t* rows = I32Arg(info, 3, k, "out.indices", false, n, ShapeText("[B, L]", {starts.length, length})).data;
  uint8_t* mask = U8Arg(info, 4, k, "out.mask", false, n, ShapeText("[B, L]", {starts.length, length})).data;
  CheckNoOverlap(env, k, "out.indices", rows, n * 4, "starts", starts.data, starts.length * 4);
  Guard(env, [&] { b->Follow(starts.data, starts.length, length, rows, mask); });
  return env.Undefined();
}

// replaySampleEpisodes(h, batch, temperature, starts: Int32Array [B], lengths: Int32Array [B], returns: Float32Array [B])
Napi::Value EpisodesBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replaySampleEpisodes";
  Napi::Env env = info.Env();
  ReplayBuffer* b = HandleArg(info, k);
  const size_t batch = SizeArg(info, 1, k, "batch");
  const double temperature = NumberArg(info, 2, k, "temperature", 1e-12, 1e300);
  int32_t* starts = I32Arg(info, 3, k, "out.starts", false, batch, ShapeText("[B]", {batch})).data;
  int32_t* lengths = I32Arg(info, 4, k, "out.lengths", false, batch, ShapeText("[B]", {batch})).data;
  float* returns = F32Arg(info, 5, k, "out.returns", false, batch, ShapeText("[B]", {batch})).data;
  Guard(env, [&] { b->SampleEpisodes(batch, temperature, starts, lengths, returns); });
  return env.Undefined();
}

// replaySerialize(h) -> Uint8Array
Napi::Value SerializeBinding(const Napi::CallbackInfo& info) {
  ReplayBuffer* b = HandleArg(info, "replaySerialize");
  Napi::Env env = info.Env();
  std::vector<uint8_t> bytes = Guard(env, [&] { return b->Serialize(); });
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size());
  return Napi::Uint8Array::New(env, bytes.size(), out.ArrayBuffer(), out.ByteOffset());
}

// replayDeserialize(bytes: Uint8Array, useCuda?) -> handle
Napi::Value DeserializeBinding(const Napi::CallbackInfo& info) {
  ArrayArg<uint8_t> bytes = U8Arg(info, 0, "replayDeserialize", "bytes", false, SIZE_MAX, "");
  Napi::Env env = info.Env();
  const bool use_cuda = BoolArg(info, 1);
  CheckDevice(env, "replayDeserialize", use_cuda);
  return Wrap(env, Guard(env, [&] { return ReplayBuffer::Deserialize(bytes.data, bytes.length, use_cuda); }));
}

std::string PathArg(const Napi::CallbackInfo& info, size_t i, const char* k) {
  if (info.Length() <= i || !info[i].IsString()) ThrowError(info.Env(), "ERR_ARG", std::string(k) + ": path must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// replaySave(h, path): writes to path + ".tmp" then renames, so a failed save leaves no half file.
Napi::Value SaveBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replaySave";
  ReplayBuffer* b = HandleArg(info, k);
  Napi::Env env = info.Env();
  const std::string path = PathArg(info, 1, k), tmp = path + ".tmp";
  std::vector<uint8_t> bytes = Guard(env, [&] { return b->Serialize(); });
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!f) ThrowError(env, "ERR_IO", std::string(k) + ": cannot open " + tmp + " for writing");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size() && std::fflush(f.get()) == 0;
  f.reset();
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    ThrowError(env, "ERR_IO", std::string(k) + ": cannot write " + path);
  }
  return env.Undefined();
}

// replayLoad(path, useCuda?) -> handle
Napi::Value LoadBinding(const Napi::CallbackInfo& info) {
  constexpr const char* k = "replayLoad";
  Napi::Env env = info.Env();
  const std::string path = PathArg(info, 0, k);
  const bool use_cuda = BoolArg(info, 1);
  CheckDevice(env, k, use_cuda);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) ThrowError(env, "ERR_IO", std::string(k) + ": cannot open " + path);
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (size_t got; (got = std::fread(chunk, 1, sizeof(chunk), f.get())) > 0;) bytes.insert(bytes.end(), chunk, chunk + got);
  if (std::ferror(f.get())) ThrowError(env, "ERR_IO", std::string(k) + ": cannot read " + path);
  return Wrap(env, Guard(env, [&] { return ReplayBuffer::Deserialize(bytes.data(), bytes.size(), use_cuda); }));
}

// replayClose(h): frees the memory now rather than at garbage collection.
Napi::Value CloseBinding(const Napi::CallbackInfo& info) {
  HandleArg(info, "replayClose")->Release();
  return info.Env().Undefined();
}

}  // namespace

RLCORE_EXPORT(replayClose, CloseBinding);
RLCORE_EXPORT(replayCreate, CreateBinding);
RLCORE_EXPORT(replayInfo, InfoBinding);
RLCORE_EXPORT(replayAdd, AddBinding);
RLCORE_EXPORT(replaySample, SampleBinding);
RLCORE_EXPORT(replayGather, GatherBinding);
RLCORE_EXPORT(replayUpdatePriorities, UpdateBinding);
RLCORE_EXPORT(replayPriorities, PrioritiesBinding);
RLCORE_EXPORT(replaySampleSequences, SequencesBinding);
RLCORE_EXPORT(replayFollow, FollowBinding);
RLCORE_EXPORT(replaySampleEpisodes, EpisodesBinding);
RLCORE_EXPORT(replaySerialize, SerializeBinding);
RLCORE_EXPORT(replayDeserialize, DeserializeBinding);
RLCORE_EXPORT(replaySave, SaveBinding);
RLCORE_EXPORT(replayLoad, LoadBinding);

}  // namespace rlcore::replay
