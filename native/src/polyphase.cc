#include "polyphase.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "g711.h"

namespace dsp {

namespace {

constexpr double kHalf = static_cast<double>(1LL << (kCoefShift - 1));
constexpr double kInvOne = 1.0 / static_cast<double>(1LL << kCoefShift);
// Zeroed samples after every buffer: a partial tile computes a few outputs past the block (discarded) and reads up
// to 7 samples past the last real window.
constexpr int kSlack = 16;

// Vectorisation without -march=native: GCC function multiversioning. The block kernels are compiled twice, for
// x86-64-v3 (AVX2 + FMA) and for the x86-64 baseline (SSE2), and an ifunc resolver picks one at load time; the
// multiversioned functions run a whole block, so the indirect call is paid per block, not per sample.
//
// Loop shape. Output m has phase (m·M) mod L, so outputs m ≡ r (mod L) all use the same coefficient vector and read
// windows that advance by M input samples. Each residue r is swept on its own, four outputs at a time: they share
// every coefficient load, and each keeps eight partial sums in two 4-lane vectors (GCC vector extensions), so eight
// independent accumulators hide the FMA latency. A single float64 accumulator would neither vectorise (no
// -ffast-math) nor go faster than one FMA latency per tap. The four totals come out of one transposed shuffle-add.
// Regrouping sums is exact because every term is an integer below 2^53 (see polyphase.h), so the results equal the
// scalar TS loop bit for bit. Rounding to PCM16 is a separate vectorised pass.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(DSP_NO_MULTIVERSION)
#define DSP_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DSP_MULTIVERSION
#endif
#define DSP_INLINE inline __attribute__((always_inline))

// GCC vector extensions: four float64 lanes, lowered to one ymm (AVX2 clone) or two xmm (baseline) registers.
typedef double V4 __attribute__((vector_size(32)));
#if defined(__clang__)
#define DSP_SHUFFLE(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
typedef int64_t I4 __attribute__((vector_size(32)));
#define DSP_SHUFFLE(a, b, i, j, k, l) __builtin_shuffle(a, b, I4{i, j, k, l})
#endif

DSP_INLINE V4 Load(const double* p) {
  V4 v;
  std::memcpy(&v, p, sizeof v);  // unaligned load
  return v;
}

DSP_INLINE double Reduce(const double* l) {
  return ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
}

// Tiles. When consecutive outputs read consecutive windows, 32 of them are computed at once with each coefficient
// broadcast across four lanes: eight independent accumulators and no horizontal sums at all. That holds for every
// residue of an interpolator (M = 1). Decimators (L = 1) get there by splitting the input into M classes by sample
// index mod M (a deinterleaved copy per block): within a class, output m + 1's run starts one sample after output
// m's. Their prototype is a Nyquist(M) filter, every M-th tap away from the centre exactly zero, so one class holds
// just the centre tap and a third of the 24k → 8k taps drop out. A run (DecimClass) is one class's taps and samples:
// acc[m] = Σ_class Σ_q coef[q] · src[m + q].
//
// Tile<kVecs>: kVecs × 4 consecutive outputs, results to acc[(m0 + i) · stride].
template <int kVecs>
DSP_INLINE void Tile(const DecimClass* classes, int nclasses, int m0, int valid, int stride, double* acc) {
  V4 a[kVecs] = {};
  for (int s = 0; s < nclasses; ++s) {
    const DecimClass& k = classes[s];
    const double* p = k.src + m0;
    for (int q = 0; q < k.length; ++q, ++p) {
      const double c = k.coef[q];
#pragma GCC unroll 8
      for (int v = 0; v < kVecs; ++v) a[v] += c * Load(p + 4 * v);
    }
  }
  double tile[kVecs * 4];
  std::memcpy(tile, a, sizeof tile);
  for (int i = 0; i < valid; ++i) acc[static_cast<size_t>(m0 + i) * stride] = tile[i];
}

// `count` outputs whose runs in every class advance by one sample per output: 32 at a time (eight accumulators),
// then 8 at a time. The last narrow tile may read up to 7 samples past the last run (kSlack covers that).
DSP_MULTIVERSION
void TiledOutputs(const DecimClass* classes, int nclasses, int count, int stride, double* acc) {
  int m0 = 0;
  for (; m0 + 32 <= count; m0 += 32) Tile<8>(classes, nclasses, m0, 32, stride, acc);
  for (; m0 < count; m0 += 8) Tile<2>(classes, nclasses, m0, std::min(8, count - m0), stride, acc);
}

// Exact sums for `s.count` outputs of one residue, written to acc[0], acc[stride], acc[2·stride] …
DSP_MULTIVERSION
void SweepResidue(const Sweep& s, int step, int stride, double* acc) {
  const double* c = s.coefs;
  const int len = s.length;
  const double* x = s.x;
  int k = 0;
  if (len == 1) {
    const double c0 = c[0];  // the pure-delay phase of ×2 / ×3
    for (; k < s.count; ++k) acc[static_cast<size_t>(k) * stride] = c0 * x[static_cast<size_t>(k) * step];
    return;
  }
  if (step == 1) {
    // Interpolators (M = 1): consecutive outputs of a residue read consecutive windows, so tile them.
    const DecimClass one{c, x, len};
    TiledOutputs(&one, 1, s.count, stride, acc);
    return;
  }
  for (; k + 4 <= s.count; k += 4) {
    const double* x0 = x + static_cast<size_t>(k) * step;
    const double* x1 = x0 + step;
    const double* x2 = x1 + step;
    const double* x3 = x2 + step;
    V4 a0 = {}, b0 = {}, a1 = {}, b1 = {}, a2 = {}, b2 = {}, a3 = {}, b3 = {};
    static_assert(kLanes == 8, "two V4 per step");
    for (int j = 0; j < len; j += kLanes) {
      const V4 ca = Load(c + j);
      const V4 cb = Load(c + j + 4);
      a0 += ca * Load(x0 + j);
      b0 += cb * Load(x0 + j + 4);
      a1 += ca * Load(x1 + j);
      b1 += cb * Load(x1 + j + 4);
      a2 += ca * Load(x2 + j);
      b2 += cb * Load(x2 + j + 4);
      a3 += ca * Load(x3 + j);
      b3 += cb * Load(x3 + j + 4);
    }
    // Transposed horizontal sum: lane g of r is the total of output g's eight partial sums.
    const V4 s0 = a0 + b0, s1 = a1 + b1, s2 = a2 + b2, s3 = a3 + b3;
    const V4 t0 = DSP_SHUFFLE(s0, s1, 0, 4, 2, 6) + DSP_SHUFFLE(s0, s1, 1, 5, 3, 7);
    const V4 t1 = DSP_SHUFFLE(s2, s3, 0, 4, 2, 6) + DSP_SHUFFLE(s2, s3, 1, 5, 3, 7);
    const V4 r = DSP_SHUFFLE(t0, t1, 0, 1, 4, 5) + DSP_SHUFFLE(t0, t1, 2, 3, 6, 7);
    double* a = acc + static_cast<size_t>(k) * stride;
    a[0] = r[0];
    a[stride] = r[1];
    a[2 * stride] = r[2];
    a[3 * stride] = r[3];
  }
  for (; k < s.count; ++k) {
    const double* xk = x + static_cast<size_t>(k) * step;
    double l[kLanes] = {};
    for (int j = 0; j < len; j += kLanes) {
#pragma omp simd
      for (int q = 0; q < kLanes; ++q) l[q] += c[j + q] * xk[j + q];
    }
    acc[static_cast<size_t>(k) * stride] = Reduce(l);
  }
}

// Class s of the block: dst[s·stride + i] = buf[i·M + s]. Whole frames of M samples first, with M = 2 and 3
// spelled out so the compiler sees straight-line loads and stores; then the ragged end.
DSP_MULTIVERSION
void Deinterleave(const double* buf, long valid, int m, double* dst, int stride) {
  const long frames = valid / m;
  double* d0 = dst;
  double* d1 = dst + stride;
  if (m == 2) {
    for (long i = 0; i < frames; ++i) {
      d0[i] = buf[2 * i];
      d1[i] = buf[2 * i + 1];
    }
  } else if (m == 3) {
    double* d2 = dst + 2 * stride;
    for (long i = 0; i < frames; ++i) {
      d0[i] = buf[3 * i];
      d1[i] = buf[3 * i + 1];
      d2[i] = buf[3 * i + 2];
    }
  } else {
    for (long i = 0; i < frames; ++i) {
      for (int s = 0; s < m; ++s) dst[static_cast<size_t>(s) * stride + i] = buf[i * m + s];
    }
  }
  for (long n = frames * m; n < valid; ++n) dst[static_cast<size_t>(n % m) * stride + frames] = buf[n];
}

// floor(acc / 2^30 + 1/2), saturated to PCM16. Written with integer conversion, compare and min/max so that it
// vectorises on the SSE2 baseline too (std::floor would be a libm call there); exact because |acc / 2^30| < 2^31.
DSP_MULTIVERSION
void RoundQ30(const double* acc, size_t n, int16_t* out) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const double y = (acc[i] + kHalf) * kInvOne;
    int32_t t = static_cast<int32_t>(y);          // truncates toward zero
    t -= static_cast<int32_t>(y < static_cast<double>(t));  // … so step down for negative non-integers
    t = t > 32767 ? 32767 : t;
    t = t < -32768 ? -32768 : t;
    out[i] = static_cast<int16_t>(t);
  }
}

}  // namespace

Polyphase::Polyphase(int up, int down, int history, std::vector<double> coefs, std::vector<PhaseSpan> phases)
    : up_(up),
      down_(down),
      history_(history),
      coefs_(std::move(coefs)),
      phases_(std::move(phases)),
      buf_(static_cast<size_t>(history) + kBlock + kSlack, 0.0),
      scratch_(MaxOutput(kBlock)),
      acc_(MaxOutput(kBlock)),
      sweeps_(static_cast<size_t>(up)),
      first_offset_(static_cast<size_t>(up)),
      first_phase_(static_cast<size_t>(up)),
      advance_(static_cast<size_t>(up)),
      next_(static_cast<size_t>(up)) {
  for (int p = 0; p < up; ++p) {
    advance_[p] = (p + down) / up;
    next_[p] = (p + down) % up;
  }
  if (up == 1 && down > 1) PrepareDecimator();
}

void Polyphase::PrepareDecimator() {
  // For each rotation ρ = (window start mod M) and class s, the taps j ≡ s − ρ (mod M), with zeros trimmed.
  const PhaseSpan& ps = phases_[0];
  const double* c = coefs_.data() + ps.offset;
  const int m = down_;
  dec_spans_.assign(static_cast<size_t>(m) * m, DecimSpan{0, 0, 0});
  for (int rho = 0; rho < m; ++rho) {
    for (int s = 0; s < m; ++s) {
      const int js = ((s - rho) % m + m) % m;
      std::vector<double> taps;
      for (int j = js; j < ps.length; j += m) taps.push_back(c[j]);
      int lo = 0;
      while (lo < static_cast<int>(taps.size()) && taps[lo] == 0) ++lo;
      int hi = static_cast<int>(taps.size()) - 1;
      while (hi >= lo && taps[hi] == 0) --hi;
      DecimSpan& d = dec_spans_[static_cast<size_t>(rho) * m + s];
      d.offset = static_cast<int32_t>(dec_coefs_.size());
      d.length = hi - lo + 1;
      d.skip = lo;
      for (int i = lo; i <= hi; ++i) dec_coefs_.push_back(taps[i]);
    }
  }
  // Each class holds ceil((history + block) / M) samples plus a tile of slack: the last tile of outputs reads past
  // the valid samples (those results are discarded), and the slack keeps those reads in bounds and finite.
  dec_stride_ = (history_ + kBlock + m - 1) / m + kSlack;
  dec_src_.assign(static_cast<size_t>(dec_stride_) * m, 0.0);
  dec_classes_.resize(static_cast<size_t>(m));
}

void Polyphase::Reset() {
  std::fill(buf_.begin(), buf_.end(), 0.0);
  phase_ = 0;
  offset_ = 0;
}

size_t Polyphase::Drain(size_t take, int16_t* out) {
  if (!dec_spans_.empty()) return DrainDecimator(take, out);
  // Outputs of this block are the prefix m = 0 … total-1 whose newest input is inside it. Walk the first L of them
  // (one period of the phase sequence) to find each residue's phase and first window; the rest follow by stepping M.
  const long ltake = static_cast<long>(take);
  int phase = phase_;
  long offset = offset_;
  size_t total = 0;
  for (int r = 0; r < up_; ++r) {
    const PhaseSpan& ps = phases_[phase];
    Sweep& s = sweeps_[r];
    s.coefs = coefs_.data() + ps.offset;
    s.length = ps.length;
    s.count = offset < ltake ? static_cast<int>((ltake - offset + down_ - 1) / down_) : 0;
    // Only form the window pointer when it is used: past the block it would point outside the buffer.
    s.x = s.count > 0 ? buf_.data() + history_ + offset - ps.back : nullptr;
    first_offset_[r] = offset;
    first_phase_[r] = phase;
    total += static_cast<size_t>(s.count);
    offset += advance_[phase];
    phase = next_[phase];
  }
  for (int r = 0; r < up_; ++r) {
    if (sweeps_[r].count > 0) SweepResidue(sweeps_[r], down_, up_, acc_.data() + r);
  }
  RoundQ30(acc_.data(), total, out);
  // The next output is number `total`: residue total mod L, (total div L) periods of M samples later.
  const size_t r = total % static_cast<size_t>(up_);
  phase_ = first_phase_[r];
  offset_ = first_offset_[r] + static_cast<long>(total / static_cast<size_t>(up_)) * down_ - ltake;
  std::memmove(buf_.data(), buf_.data() + take, static_cast<size_t>(history_) * sizeof(double));
  return total;
}

size_t Polyphase::DrainDecimator(size_t take, int16_t* out) {
  const long ltake = static_cast<long>(take);
  const int m = down_;
  const int count = offset_ < ltake ? static_cast<int>((ltake - offset_ + m - 1) / m) : 0;
  if (count > 0) {
    const long w0 = history_ + offset_ - phases_[0].back;  // buffer index of output 0's window
    const int rho = static_cast<int>(w0 % m);
    const long valid = history_ + ltake;
    Deinterleave(buf_.data(), valid, m, dec_src_.data(), dec_stride_);
    int nclasses = 0;
    for (int s = 0; s < m; ++s) {
      const DecimSpan& d = dec_spans_[static_cast<size_t>(rho) * m + s];
      if (d.length <= 0) continue;
      const int js = ((s - rho) % m + m) % m;
      const long start = (w0 + js - s) / m + d.skip;  // class-s index of output 0's first kept tap
      dec_classes_[nclasses++] = DecimClass{dec_coefs_.data() + d.offset,
                                            dec_src_.data() + static_cast<size_t>(s) * dec_stride_ + start, d.length};
    }
    TiledOutputs(dec_classes_.data(), nclasses, count, 1, acc_.data());
    RoundQ30(acc_.data(), static_cast<size_t>(count), out);
  }
  offset_ += static_cast<long>(count) * m - ltake;
  std::memmove(buf_.data(), buf_.data() + take, static_cast<size_t>(history_) * sizeof(double));
  return static_cast<size_t>(count);
}

size_t Polyphase::ProcessPcm(const int16_t* in, size_t n, int16_t* out) {
  size_t produced = 0;
  double* dst = buf_.data() + history_;
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t take = std::min<size_t>(kBlock, n - start);
    for (size_t i = 0; i < take; ++i) dst[i] = in[start + i];
    produced += Drain(take, out + produced);
  }
  return produced;
}

size_t Polyphase::ProcessUlawIn(const uint8_t* in, size_t n, int16_t* out) {
  size_t produced = 0;
  double* dst = buf_.data() + history_;
  const double* table = kUlaw.decode_f64.data();
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t take = std::min<size_t>(kBlock, n - start);
    for (size_t i = 0; i < take; ++i) dst[i] = table[in[start + i]];
    produced += Drain(take, out + produced);
  }
  return produced;
}

size_t Polyphase::ProcessUlawOut(const int16_t* in, size_t n, uint8_t* out) {
  size_t produced = 0;
  double* dst = buf_.data() + history_;
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t take = std::min<size_t>(kBlock, n - start);
    for (size_t i = 0; i < take; ++i) dst[i] = in[start + i];
    const size_t got = Drain(take, scratch_.data());
    for (size_t i = 0; i < got; ++i) out[produced + i] = UlawEncode(scratch_[i]);
    produced += got;
  }
  return produced;
}

}  // namespace dsp
