// N-API boundary of the DSP addon. Deliberately narrow: typed arrays and numbers in, integers out. Argument shapes
// are validated in src/audio/native.ts; this file re-checks only what memory safety needs (array types and
// capacities, one napi_get_typedarray_info call each) and never walks JS objects.
//
// Context-aware: state lives in Napi::Addon instance data and in ObjectWrap instances, never in mutable statics,
// so the same .node loads on the main thread and in piscina workers.
#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "g711.h"
#include "polyphase.h"

namespace {

// Bumped when the JS-visible surface or the arithmetic changes; src/audio/native.ts refuses a stale build.
constexpr uint32_t kAbiVersion = 2;
constexpr int kMaxFactor = 64;
constexpr int kMaxHistory = 1 << 16;

template <typename T>
bool GetView(const Napi::Env& env, const Napi::Value& v, napi_typedarray_type want, const char* what, T** data,
             size_t* length) {
  napi_typedarray_type type;
  void* ptr = nullptr;
  size_t len = 0;
  // One call both checks "is a typed array" (napi_invalid_arg otherwise) and yields type, length and data.
  if (napi_get_typedarray_info(env, v, &type, &len, &ptr, nullptr, nullptr) != napi_ok || type != want) {
    Napi::TypeError::New(env, std::string(what) + " must be a typed array of the right element type")
        .ThrowAsJavaScriptException();
    return false;
  }
  *data = static_cast<T*>(ptr);
  *length = len;
  return true;
}

bool CheckCapacity(const Napi::Env& env, size_t have, size_t need) {
  if (have >= need) return true;
  Napi::RangeError::New(env, "output buffer too small").ThrowAsJavaScriptException();
  return false;
}

class PolyphaseWrap : public Napi::ObjectWrap<PolyphaseWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Polyphase",
                       {
                           InstanceMethod<&PolyphaseWrap::Pcm>("pcm"),
                           InstanceMethod<&PolyphaseWrap::UlawIn>("ulawIn"),
                           InstanceMethod<&PolyphaseWrap::UlawOut>("ulawOut"),
                           InstanceMethod<&PolyphaseWrap::Reset>("reset"),
                       });
  }

  // new Polyphase(up, down, history, coefs: Float64Array, phases: Int32Array [offset, length, back] × up)
  explicit PolyphaseWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PolyphaseWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 5 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
      Napi::TypeError::New(env, "Polyphase(up, down, history, coefs, phases)").ThrowAsJavaScriptException();
      return;
    }
    const int up = info[0].As<Napi::Number>().Int32Value();
    const int down = info[1].As<Napi::Number>().Int32Value();
    const int history = info[2].As<Napi::Number>().Int32Value();
    double* coefs = nullptr;
    size_t ncoefs = 0;
    int32_t* spans = nullptr;
    size_t nspans = 0;
    if (!GetView(env, info[3], napi_float64_array, "coefs", &coefs, &ncoefs)) return;
    if (!GetView(env, info[4], napi_int32_array, "phases", &spans, &nspans)) return;
    if (up < 1 || up > kMaxFactor || down < 1 || down > kMaxFactor || history < 0 || history > kMaxHistory ||
        nspans != static_cast<size_t>(up) * 3) {
      Napi::RangeError::New(env, "invalid polyphase design").ThrowAsJavaScriptException();
      return;
    }
    std::vector<dsp::PhaseSpan> phases(static_cast<size_t>(up));
    for (int p = 0; p < up; ++p) {
      const dsp::PhaseSpan s{spans[p * 3], spans[p * 3 + 1], spans[p * 3 + 2]};
      // Keeps every window inside [history | block] and every coefficient read inside coefs.
      const bool ok = s.offset >= 0 && s.length >= 1 && static_cast<size_t>(s.offset) + s.length <= ncoefs &&
                      s.back >= s.length - 1 && s.back <= history;
      // Exactness: integer coefficients whose split int32 sums cannot overflow for PCM16 input (see polyphase.h).
      if (!ok || !dsp::SplitFits(coefs + s.offset, s.length)) {
        Napi::RangeError::New(env, "invalid polyphase design").ThrowAsJavaScriptException();
        return;
      }
      phases[p] = s;
    }
    state_.emplace(up, down, history, std::vector<double>(coefs, coefs + ncoefs), std::move(phases));
  }

 private:
  Napi::Value Pcm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int16_t* in = nullptr;
    int16_t* out = nullptr;
    size_t nin = 0;
    size_t nout = 0;
    if (!GetView(env, info[0], napi_int16_array, "input", &in, &nin)) return env.Undefined();
    if (!GetView(env, info[1], napi_int16_array, "out", &out, &nout)) return env.Undefined();
    if (!CheckCapacity(env, nout, state_->MaxOutput(nin))) return env.Undefined();
    return Napi::Number::New(env, static_cast<double>(state_->ProcessPcm(in, nin, out)));
  }

  Napi::Value UlawIn(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* in = nullptr;
    int16_t* out = nullptr;
    size_t nin = 0;
    size_t nout = 0;
    if (!GetView(env, info[0], napi_uint8_array, "ulaw", &in, &nin)) return env.Undefined();
    if (!GetView(env, info[1], napi_int16_array, "out", &out, &nout)) return env.Undefined();
    if (!CheckCapacity(env, nout, state_->MaxOutput(nin))) return env.Undefined();
    return Napi::Number::New(env, static_cast<double>(state_->ProcessUlawIn(in, nin, out)));
  }

  Napi::Value UlawOut(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int16_t* in = nullptr;
    uint8_t* out = nullptr;
    size_t nin = 0;
    size_t nout = 0;
    if (!GetView(env, info[0], napi_int16_array, "input", &in, &nin)) return env.Undefined();
    if (!GetView(env, info[1], napi_uint8_array, "out", &out, &nout)) return env.Undefined();
    if (!CheckCapacity(env, nout, state_->MaxOutput(nin))) return env.Undefined();
    return Napi::Number::New(env, static_cast<double>(state_->ProcessUlawOut(in, nin, out)));
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    state_->Reset();
    return info.Env().Undefined();
  }

  // Engaged by the constructor; a constructor that threw never hands the object to JS.
  std::optional<dsp::Polyphase> state_;
};

class DspAddon : public Napi::Addon<DspAddon> {
 public:
  DspAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod<&DspAddon::UlawDecode>("ulawDecode"),
                             InstanceMethod<&DspAddon::UlawEncode>("ulawEncode"),
                             InstanceValue("Polyphase", PolyphaseWrap::Define(env)),
                             InstanceValue("abiVersion", Napi::Number::New(env, kAbiVersion)),
                             InstanceValue("blockSize", Napi::Number::New(env, dsp::kBlock)),
                             InstanceValue("phaseAlign", Napi::Number::New(env, dsp::kLanes)),
                             InstanceValue("coefShift", Napi::Number::New(env, dsp::kCoefShift)),
                             InstanceValue("coefSplit", Napi::Number::New(env, dsp::kCoefSplit)),
                         });
  }

 private:
  // ulawDecode(input: Uint8Array, out: Int16Array)
  Napi::Value UlawDecode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* in = nullptr;
    int16_t* out = nullptr;
    size_t nin = 0;
    size_t nout = 0;
    if (!GetView(env, info[0], napi_uint8_array, "input", &in, &nin)) return env.Undefined();
    if (!GetView(env, info[1], napi_int16_array, "out", &out, &nout)) return env.Undefined();
    if (!CheckCapacity(env, nout, nin)) return env.Undefined();
    const int16_t* table = dsp::kUlaw.decode.data();
    for (size_t i = 0; i < nin; ++i) out[i] = table[in[i]];
    return env.Undefined();
  }

  // ulawEncode(input: Int16Array, out: Uint8Array)
  Napi::Value UlawEncode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int16_t* in = nullptr;
    uint8_t* out = nullptr;
    size_t nin = 0;
    size_t nout = 0;
    if (!GetView(env, info[0], napi_int16_array, "input", &in, &nin)) return env.Undefined();
    if (!GetView(env, info[1], napi_uint8_array, "out", &out, &nout)) return env.Undefined();
    if (!CheckCapacity(env, nout, nin)) return env.Undefined();
    for (size_t i = 0; i < nin; ++i) out[i] = dsp::UlawEncode(in[i]);
    return env.Undefined();
  }
};

}  // namespace

NODE_API_ADDON(DspAddon)
