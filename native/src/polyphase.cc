#include "polyphase.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "g711.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(DSP_NO_MULTIVERSION)
#define DSP_AVX2 1
// GCC 12's AVX-512 headers trip a false -Wmaybe-uninitialized (GCC bug 105593,
// https://gcc.gnu.org/bugzilla/show_bug.cgi?id=105593) when their intrinsics are inlined. Remove the pragmas once
// the oldest GCC we build with no longer warns here (build with -Wall on that GCC without them to check).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace dsp {

namespace {

constexpr int kHiShift = kCoefShift - kCoefSplit;
constexpr int64_t kOne = int64_t{1} << kCoefShift;
// Samples (and pairs) past the valid data that stay allocated: a partial tile computes up to 15 outputs past the last
// wanted one (discarded) and a run padded to whole pairs reads one tap past its window.
constexpr int kSlack = 32;

// Vectorisation without -march=native. The tile kernel, where the time goes, exists three times: AVX-512 (BW + VNNI)
// and AVX2 intrinsics in target(...) functions, and portable scalar C++ (x86-64 baseline, other architectures, the
// sanitizer build's second pass); each instance picks the widest the CPU has, from __builtin_cpu_supports. The
// simpler block loops use GCC function multiversioning instead: an x86-64-v3 clone and a baseline clone of each,
// auto-vectorised, chosen by an ifunc resolver at load time (a whole block per call, so dispatch is paid per block).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(DSP_NO_MULTIVERSION)
#define DSP_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DSP_MULTIVERSION
#endif

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - static_cast<int64_t>((a % b != 0) && ((a < 0) != (b < 0))); }

// floor((Σc·x + 2^21) / 2^22) from the split sums, Σc·x = a·2^8 + b, without leaving int32 (design.ts bounds a and
// b): floor((a·2^8 + b + 2^13·2^8) / 2^22) = floor((a + 2^13 + floor(b / 2^8)) / 2^14). Then saturate to PCM16.
// `>>` on negative int32 is an arithmetic (flooring) shift in GCC and Clang, as in vpsrad.
inline int16_t Finish(int32_t a, int32_t b) {
  int32_t y = (a + (1 << (kHiShift - 1)) + (b >> kCoefSplit)) >> kHiShift;
  y = std::min(32767, std::max(-32768, y));
  return static_cast<int16_t>(y);
}

inline int32_t Pack(int16_t lo, int16_t hi) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(lo)) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16));
}
inline int32_t Low(int32_t v) { return static_cast<int16_t>(static_cast<uint16_t>(static_cast<uint32_t>(v))); }
inline int32_t High(int32_t v) { return static_cast<int16_t>(static_cast<uint16_t>(static_cast<uint32_t>(v) >> 16)); }

// Tiles. When consecutive outputs read consecutive windows (every residue of an interpolator, M = 1; every class of
// a deinterleaved decimator, L = 1), output m of a tile takes pair t from src[m + 2t]: eight consecutive outputs
// are one unaligned 8 × int32 load, multiplied by the broadcast coefficient pair with vpmaddwd, which sums the two
// taps of the pair per lane. 32 outputs at a time keep eight accumulators (4 × Σhi·x, 4 × Σlo·x) and need no
// horizontal sums; each sample load feeds both the hi and the lo multiply.
void TilesScalar(const Run* runs, int nruns, int count, int16_t* out, int stride) {
  for (int m = 0; m < count; ++m) {
    int32_t a = 0;
    int32_t b = 0;
    for (int s = 0; s < nruns; ++s) {
      const Run& r = runs[s];
      const int32_t* p = r.src + m;
      for (int t = 0; t < r.pairs; ++t) {
        const int32_t x = p[2 * t];
        a += Low(r.hi[t]) * Low(x) + High(r.hi[t]) * High(x);
        b += Low(r.lo[t]) * Low(x) + High(r.lo[t]) * High(x);
      }
    }
    out[static_cast<size_t>(m) * stride] = Finish(a, b);
  }
}

#if defined(DSP_AVX2)
template <int kVecs>
__attribute__((target("avx2"), always_inline)) inline void TileAvx2(const Run* runs, int nruns, int m0, int valid,
                                                                   int16_t* out, int stride) {
  __m256i a[kVecs];
  __m256i b[kVecs];
  for (int v = 0; v < kVecs; ++v) a[v] = b[v] = _mm256_setzero_si256();
  for (int s = 0; s < nruns; ++s) {
    const Run& r = runs[s];
    const int32_t* p = r.src + m0;
    for (int t = 0; t < r.pairs; ++t, p += 2) {
      const __m256i h = _mm256_set1_epi32(r.hi[t]);
      const __m256i l = _mm256_set1_epi32(r.lo[t]);
      for (int v = 0; v < kVecs; ++v) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 8 * v));
        a[v] = _mm256_add_epi32(a[v], _mm256_madd_epi16(x, h));
        b[v] = _mm256_add_epi32(b[v], _mm256_madd_epi16(x, l));
      }
    }
  }
  // Round and saturate: packssdw saturates int32 to int16 exactly like Finish(); the permute undoes its per-128-bit
  // interleave so the outputs come out in order.
  const __m256i half = _mm256_set1_epi32(1 << (kHiShift - 1));
  __m256i y[kVecs];
  for (int v = 0; v < kVecs; ++v) {
    const __m256i t = _mm256_add_epi32(_mm256_add_epi32(a[v], half), _mm256_srai_epi32(b[v], kCoefSplit));
    y[v] = _mm256_srai_epi32(t, kHiShift);
  }
  alignas(32) int16_t packed[8 * (kVecs + kVecs % 2)];
  for (int v = 0; v < kVecs; v += 2) {
    const __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(y[v], v + 1 < kVecs ? y[v + 1] : y[v]), 0xD8);
    if (stride == 1 && valid == 8 * kVecs && v + 1 < kVecs) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + m0 + 8 * v), p16);
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(packed + 8 * v), p16);
    }
  }
  if (stride == 1 && valid == 8 * kVecs && kVecs % 2 == 0) return;
  for (int i = 0; i < valid; ++i) out[static_cast<size_t>(m0 + i) * stride] = packed[i];
}

__attribute__((target("avx2"))) void TilesAvx2(const Run* runs, int nruns, int count, int16_t* out, int stride) {
  int m0 = 0;
  for (; m0 + 32 <= count; m0 += 32) TileAvx2<4>(runs, nruns, m0, 32, out, stride);
  for (; m0 < count; m0 += 8) TileAvx2<1>(runs, nruns, m0, std::min(8, count - m0), out, stride);
}

// The same tiles 16 outputs per vector with AVX-512 (BW for the 16-bit operands, VNNI for vpdpwssd, which fuses
// the multiply-pair-add and the accumulate). 64 outputs per tile keep eight accumulators.
template <int kVecs>
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) inline void TileAvx512(
    const Run* runs, int nruns, int m0, int valid, int16_t* out, int stride) {
  __m512i a[kVecs];
  __m512i b[kVecs];
  for (int v = 0; v < kVecs; ++v) a[v] = b[v] = _mm512_setzero_si512();
  for (int s = 0; s < nruns; ++s) {
    const Run& r = runs[s];
    const int32_t* p = r.src + m0;
    for (int t = 0; t < r.pairs; ++t, p += 2) {
      const __m512i h = _mm512_set1_epi32(r.hi[t]);
      const __m512i l = _mm512_set1_epi32(r.lo[t]);
      for (int v = 0; v < kVecs; ++v) {
        const __m512i x = _mm512_loadu_si512(p + 16 * v);
        a[v] = _mm512_dpwssd_epi32(a[v], x, h);
        b[v] = _mm512_dpwssd_epi32(b[v], x, l);
      }
    }
  }
  // vpmovsdw saturates int32 to int16 exactly like Finish(), keeping the order.
  const __m512i half = _mm512_set1_epi32(1 << (kHiShift - 1));
  alignas(32) int16_t packed[16 * kVecs];
  for (int v = 0; v < kVecs; ++v) {
    const __m512i t = _mm512_add_epi32(_mm512_add_epi32(a[v], half), _mm512_srai_epi32(b[v], kCoefSplit));
    const __m256i y = _mm512_cvtsepi32_epi16(_mm512_srai_epi32(t, kHiShift));
    if (stride == 1 && valid == 16 * kVecs) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + m0 + 16 * v), y);
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(packed + 16 * v), y);
    }
  }
  if (stride == 1 && valid == 16 * kVecs) return;
  for (int i = 0; i < valid; ++i) out[static_cast<size_t>(m0 + i) * stride] = packed[i];
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void TilesAvx512(const Run* runs, int nruns, int count,
                                                                        int16_t* out, int stride) {
  int m0 = 0;
  for (; m0 + 64 <= count; m0 += 64) TileAvx512<4>(runs, nruns, m0, 64, out, stride);
  for (; m0 < count; m0 += 16) TileAvx512<1>(runs, nruns, m0, std::min(16, count - m0), out, stride);
}
#endif

// pairs[i] = (x[i], x[i+1]) for i < n: the operand layout of the tiles.
DSP_MULTIVERSION
void BuildPairs(const int16_t* x, int n, int32_t* pairs) {
  for (int i = 0; i < n; ++i) {
    pairs[i] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(x[i])) |
                                    (static_cast<uint32_t>(static_cast<uint16_t>(x[i + 1])) << 16));
  }
}

// out[m] = residue m mod L's output m div L, for m < total: the residues of an interpolator block, each computed
// contiguously, merged into output order. L = 2 and 3 are spelled out so the compiler vectorises them.
DSP_MULTIVERSION
void Interleave(const int16_t* const* src, int up, size_t total, int16_t* out) {
  const size_t whole = total / static_cast<size_t>(up);
  if (up == 2) {
    const int16_t* s0 = src[0];
    const int16_t* s1 = src[1];
    for (size_t k = 0; k < whole; ++k) {
      out[2 * k] = s0[k];
      out[2 * k + 1] = s1[k];
    }
  } else if (up == 3) {
    const int16_t* s0 = src[0];
    const int16_t* s1 = src[1];
    const int16_t* s2 = src[2];
    for (size_t k = 0; k < whole; ++k) {
      out[3 * k] = s0[k];
      out[3 * k + 1] = s1[k];
      out[3 * k + 2] = s2[k];
    }
  } else {
    for (size_t k = 0; k < whole; ++k) {
      for (int r = 0; r < up; ++r) out[k * up + r] = src[r][k];
    }
  }
  for (size_t m = whole * up; m < total; ++m) out[m] = src[m - whole * up][whole];
}

// Class s of the block: dst[s·stride + i] = buf[i·M + s] for the `valid` samples, then kSlack + 1 zeros per class.
// M = 2 and 3 are spelled out so the compiler sees straight-line loads and stores.
DSP_MULTIVERSION
void Deinterleave(const int16_t* buf, long valid, int m, int16_t* dst, int stride) {
  const long frames = valid / m;
  int16_t* d0 = dst;
  int16_t* d1 = dst + stride;
  if (m == 2) {
    for (long i = 0; i < frames; ++i) {
      d0[i] = buf[2 * i];
      d1[i] = buf[2 * i + 1];
    }
  } else if (m == 3) {
    int16_t* d2 = dst + 2 * stride;
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
  for (int s = 0; s < m; ++s) {
    const long have = frames + (frames * m + s < valid ? 1 : 0);
    int16_t* d = dst + static_cast<size_t>(s) * stride;
    if (have > frames) d[frames] = buf[frames * m + s];
    for (long i = have; i <= have + kSlack; ++i) d[i] = 0;
  }
}

// Residues whose outputs read windows `step` > 1 samples apart (ratios such as 3/2 and 2/3): one dot product per
// output, which GCC vectorises with pmaddwd (the int16 · int16 → int32 sum idiom).
DSP_MULTIVERSION
void GeneralResidue(const int16_t* hi, const int16_t* lo, int len, const int16_t* x, int step, int count, int16_t* out,
                    int stride) {
  for (int k = 0; k < count; ++k) {
    const int16_t* w = x + static_cast<size_t>(k) * step;
    int32_t a = 0;
    int32_t b = 0;
    for (int j = 0; j < len; ++j) a += static_cast<int32_t>(hi[j]) * w[j];
    for (int j = 0; j < len; ++j) b += static_cast<int32_t>(lo[j]) * w[j];
    out[static_cast<size_t>(k) * stride] = Finish(a, b);
  }
}

}  // namespace

Split SplitCoef(int64_t c) {
  const int64_t unit = int64_t{1} << kCoefSplit;
  const int64_t hi = FloorDiv(c + unit / 2, unit);
  return Split{static_cast<int32_t>(hi), static_cast<int32_t>(c - hi * unit)};
}

bool SplitFits(const double* coefs, int length) {
  int64_t hi_sum = 0;
  int64_t lo_sum = 0;
  for (int j = 0; j < length; ++j) {
    const double c = coefs[j];
    if (!(std::fabs(c) < 4.0 * static_cast<double>(kOne)) || c != std::floor(c)) return false;
    const Split s = SplitCoef(static_cast<int64_t>(c));
    if (std::abs(s.hi) > 32767) return false;
    hi_sum += std::abs(s.hi);
    lo_sum += std::abs(s.lo);
  }
  const int64_t limit = int64_t{1} << 31;
  return hi_sum * 32768 + (int64_t{1} << (kHiShift - 1)) + (limit >> kCoefSplit) < limit && lo_sum * 32768 < limit;
}

Polyphase::Polyphase(int up, int down, int history, std::vector<double> coefs, std::vector<PhaseSpan> phases,
                     Isa limit)
    : up_(up),
      down_(down),
      history_(history),
      coefs_(std::move(coefs)),
      phases_(std::move(phases)),
      hi_(coefs_.size()),
      lo_(coefs_.size()),
      buf_(static_cast<size_t>(history) + kBlock + kSlack + 1, 0),
      scratch_(MaxOutput(kBlock)),
      first_offset_(static_cast<size_t>(up)),
      first_phase_(static_cast<size_t>(up)),
      advance_(static_cast<size_t>(up)),
      next_(static_cast<size_t>(up)) {
#if defined(DSP_AVX2)
  __builtin_cpu_init();
  if (limit >= Isa::kAvx512 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni")) {
    isa_ = Isa::kAvx512;
  } else if (limit >= Isa::kAvx2 && __builtin_cpu_supports("avx2")) {
    isa_ = Isa::kAvx2;
  }
#else
  (void)limit;
#endif
  for (size_t i = 0; i < coefs_.size(); ++i) {
    const Split s = SplitCoef(static_cast<int64_t>(coefs_[i]));
    hi_[i] = static_cast<int16_t>(s.hi);
    lo_[i] = static_cast<int16_t>(s.lo);
  }
  for (int p = 0; p < up; ++p) {
    advance_[p] = (p + down) / up;
    next_[p] = (p + down) % up;
  }
  if (up == 1 && down > 1) {
    PrepareDecimator();
  } else if (down == 1) {
    for (int p = 0; p < up; ++p) {
      const PhaseSpan& ps = phases_[p];
      std::vector<int64_t> taps(coefs_.begin() + ps.offset, coefs_.begin() + ps.offset + ps.length);
      phase_pairs_.push_back(AddPairs(taps));
    }
    pairs_.assign(static_cast<size_t>(history) + kBlock + kSlack, 0);
    residue_stride_ = kBlock + kSlack;
    residue_out_.assign(static_cast<size_t>(residue_stride_) * up, 0);
    residue_src_.assign(static_cast<size_t>(up), nullptr);
  }
}

PairTaps Polyphase::AddPairs(const std::vector<int64_t>& taps) {
  const PairTaps span{static_cast<int32_t>(hi_pairs_.size()), static_cast<int32_t>((taps.size() + 1) / 2), 0};
  for (size_t j = 0; j < taps.size(); j += 2) {
    const Split a = SplitCoef(taps[j]);
    const Split b = j + 1 < taps.size() ? SplitCoef(taps[j + 1]) : Split{0, 0};
    hi_pairs_.push_back(Pack(static_cast<int16_t>(a.hi), static_cast<int16_t>(b.hi)));
    lo_pairs_.push_back(Pack(static_cast<int16_t>(a.lo), static_cast<int16_t>(b.lo)));
  }
  return span;
}

void Polyphase::PrepareDecimator() {
  // For each rotation ρ = (window start mod M) and class s, the taps j ≡ s − ρ (mod M), with zeros trimmed. The
  // prototype is a Nyquist(M) filter (every M-th tap from the centre is exactly zero), so one class keeps only the
  // centre tap and a third of the 24k → 8k taps drop out.
  const PhaseSpan& ps = phases_[0];
  const double* c = coefs_.data() + ps.offset;
  const int m = down_;
  dec_spans_.assign(static_cast<size_t>(m) * m, PairTaps{0, 0, 0});
  for (int rho = 0; rho < m; ++rho) {
    for (int s = 0; s < m; ++s) {
      const int js = ((s - rho) % m + m) % m;
      std::vector<int64_t> taps;
      for (int j = js; j < ps.length; j += m) taps.push_back(static_cast<int64_t>(c[j]));
      size_t lo = 0;
      while (lo < taps.size() && taps[lo] == 0) ++lo;
      size_t hi = taps.size();
      while (hi > lo && taps[hi - 1] == 0) --hi;
      PairTaps span = AddPairs(std::vector<int64_t>(taps.begin() + static_cast<long>(lo), taps.begin() + static_cast<long>(hi)));
      span.skip = static_cast<int32_t>(lo);
      dec_spans_[static_cast<size_t>(rho) * m + s] = span;
    }
  }
  // Each class holds ceil((history + block) / M) samples plus slack: the last tile reads past the valid samples
  // (those results are discarded), and the zeroed slack keeps those reads in bounds.
  dec_stride_ = (history_ + kBlock + m - 1) / m + 2 * kSlack;
  dec_src_.assign(static_cast<size_t>(dec_stride_) * m, 0);
  dec_x_.assign(static_cast<size_t>(dec_stride_) * m + 1, 0);
  dec_runs_.resize(static_cast<size_t>(m));
}

void Polyphase::Reset() {
  std::fill(buf_.begin(), buf_.end(), 0);
  phase_ = 0;
  offset_ = 0;
}

void Polyphase::Tiles(const Run* runs, int nruns, int count, int16_t* out, int stride) const {
#if defined(DSP_AVX2)
  if (isa_ == Isa::kAvx512) return TilesAvx512(runs, nruns, count, out, stride);
  if (isa_ == Isa::kAvx2) return TilesAvx2(runs, nruns, count, out, stride);
#endif
  TilesScalar(runs, nruns, count, out, stride);
}

size_t Polyphase::Drain(size_t take, int16_t* out) {
  if (!dec_spans_.empty()) return DrainDecimator(take, out);
  // Outputs of this block are the prefix m = 0 … total-1 whose newest input is inside it. Walk the first L of them
  // (one period of the phase sequence) to find each residue's phase and first window; the rest follow by stepping M.
  const long ltake = static_cast<long>(take);
  if (down_ == 1) BuildPairs(buf_.data(), history_ + static_cast<int>(take) + kSlack - 1, pairs_.data());
  int phase = phase_;
  long offset = offset_;
  size_t total = 0;
  for (int r = 0; r < up_; ++r) {
    const PhaseSpan& ps = phases_[phase];
    const int count = offset < ltake ? static_cast<int>((ltake - offset + down_ - 1) / down_) : 0;
    first_offset_[r] = offset;
    first_phase_[r] = phase;
    if (count > 0) {
      // Only form the window when it is used: past the block it would point outside the buffer.
      const long w = history_ + offset - ps.back;
      if (down_ == 1) {
        // Interpolators: each residue contiguously (the pure-delay one is the buffer itself), merged afterwards.
        if (ps.length == 1 && coefs_[ps.offset] == static_cast<double>(kOne)) {
          residue_src_[r] = buf_.data() + w;
        } else {
          int16_t* o = residue_out_.data() + static_cast<size_t>(r) * residue_stride_;
          const PairTaps& pp = phase_pairs_[phase];
          const Run run{hi_pairs_.data() + pp.offset, lo_pairs_.data() + pp.offset, pairs_.data() + w, pp.pairs};
          Tiles(&run, 1, count, o, 1);
          residue_src_[r] = o;
        }
      } else if (ps.length == 1 && coefs_[ps.offset] == static_cast<double>(kOne)) {
        const int16_t* x = buf_.data() + w;
        for (int k = 0; k < count; ++k) out[r + static_cast<size_t>(k) * up_] = x[static_cast<size_t>(k) * down_];
      } else {
        GeneralResidue(hi_.data() + ps.offset, lo_.data() + ps.offset, ps.length, buf_.data() + w, down_, count,
                       out + r, up_);
      }
    }
    total += static_cast<size_t>(count);
    offset += advance_[phase];
    phase = next_[phase];
  }
  if (down_ == 1) Interleave(residue_src_.data(), up_, total, out);
  // The next output is number `total`: residue total mod L, (total div L) periods of M samples later.
  const size_t r = total % static_cast<size_t>(up_);
  phase_ = first_phase_[r];
  offset_ = first_offset_[r] + static_cast<long>(total / static_cast<size_t>(up_)) * down_ - ltake;
  std::memmove(buf_.data(), buf_.data() + take, static_cast<size_t>(history_) * sizeof(int16_t));
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
    // Class s as pairs of consecutive class samples; zeros past the valid ones are read only by discarded outputs
    // and by zero taps.
    const int classes = static_cast<int>((valid + m - 1) / m) + kSlack;
    Deinterleave(buf_.data(), valid, m, dec_x_.data(), dec_stride_);
    int nruns = 0;
    for (int s = 0; s < m; ++s) {
      const PairTaps& d = dec_spans_[static_cast<size_t>(rho) * m + s];
      if (d.pairs <= 0) continue;
      int32_t* dst = dec_src_.data() + static_cast<size_t>(s) * dec_stride_;
      BuildPairs(dec_x_.data() + static_cast<size_t>(s) * dec_stride_, classes, dst);
      const int js = ((s - rho) % m + m) % m;
      const long start = (w0 + js - s) / m + d.skip;  // class-s index of output 0's first kept tap
      dec_runs_[nruns++] = Run{hi_pairs_.data() + d.offset, lo_pairs_.data() + d.offset, dst + start, d.pairs};
    }
    Tiles(dec_runs_.data(), nruns, count, out, 1);
  }
  offset_ += static_cast<long>(count) * m - ltake;
  std::memmove(buf_.data(), buf_.data() + take, static_cast<size_t>(history_) * sizeof(int16_t));
  return static_cast<size_t>(count);
}

size_t Polyphase::ProcessPcm(const int16_t* in, size_t n, int16_t* out) {
  size_t produced = 0;
  int16_t* dst = buf_.data() + history_;
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t take = std::min<size_t>(kBlock, n - start);
    std::memcpy(dst, in + start, take * sizeof(int16_t));
    produced += Drain(take, out + produced);
  }
  return produced;
}

size_t Polyphase::ProcessUlawIn(const uint8_t* in, size_t n, int16_t* out) {
  size_t produced = 0;
  int16_t* dst = buf_.data() + history_;
  const int16_t* table = kUlaw.decode.data();
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t take = std::min<size_t>(kBlock, n - start);
    for (size_t i = 0; i < take; ++i) dst[i] = table[in[start + i]];
    produced += Drain(take, out + produced);
  }
  return produced;
}

size_t Polyphase::ProcessUlawOut(const int16_t* in, size_t n, uint8_t* out) {
  size_t produced = 0;
  int16_t* dst = buf_.data() + history_;
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t take = std::min<size_t>(kBlock, n - start);
    std::memcpy(dst, in + start, take * sizeof(int16_t));
    const size_t got = Drain(take, scratch_.data());
    for (size_t i = 0; i < got; ++i) out[produced + i] = UlawEncode(scratch_[i]);
    produced += got;
  }
  return produced;
}

}  // namespace dsp
