// Streaming rational L/M polyphase FIR, the C++ twin of src/audio/ts-polyphase.ts. The design (coefficients and
// phase layout) comes from src/audio/design.ts as data, so both backends run identical integer-valued Q22
// coefficients. Here each coefficient is split as c = hi·2^8 + lo (both int16) and Σhi·x, Σlo·x are summed in int32
// with 16-bit multiplies; the constructor refuses designs where either sum could overflow, so the combined result
// is the same exact integer the scalar TS loop computes in float64, whatever the lane order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dsp {

constexpr int kBlock = 512;      // must equal BLOCK in src/audio/design.ts (only affects memory, not results)
constexpr int kCoefShift = 22;   // must equal COEF_SHIFT in src/audio/design.ts
constexpr int kCoefSplit = 8;    // must equal COEF_SPLIT in src/audio/design.ts
constexpr int kLanes = 2;        // must equal PHASE_ALIGN in src/audio/design.ts (taps are taken in pairs)

struct PhaseSpan {
  int32_t offset;  // into coefs
  int32_t length;
  int32_t back;  // window is x[n0 - back, n0 - back + length)
};

// c = hi·2^kCoefSplit + lo, lo in [−2^(kCoefSplit−1), 2^(kCoefSplit−1)); same as splitCoef in design.ts.
struct Split {
  int32_t hi;
  int32_t lo;
};
Split SplitCoef(int64_t c);
// Whether Σhi·x, Σlo·x and the rounding step stay inside int32 for every PCM16 x (same as splitFits in design.ts).
bool SplitFits(const double* coefs, int length);

// Taps of one phase (or one decimator class) in pairs: pair t holds taps 2t and 2t + 1, packed as two int16 in an
// int32 (low half first), the operand layout of pmaddwd.
struct PairTaps {
  int32_t offset;  // into hi_pairs_ / lo_pairs_
  int32_t pairs;
  int32_t skip;  // decimator classes: leading zero taps trimmed
};

// A run of tap pairs against a pair array whose element i is (x[i], x[i+1]) of consecutive samples; output m of
// a tile reads src[m + 2t] for pair t, so consecutive outputs read consecutive windows.
struct Run {
  const int32_t* hi;
  const int32_t* lo;
  const int32_t* src;
  int pairs;
};

// Widest tile kernel an instance may use (the CPU permitting); below the default only for tests, which check every
// kernel against the direct form.
enum class Isa { kScalar, kAvx2, kAvx512 };

class Polyphase {
 public:
  Polyphase(int up, int down, int history, std::vector<double> coefs, std::vector<PhaseSpan> phases,
            Isa limit = Isa::kAvx512);
  Isa isa() const { return isa_; }

  // Upper bound on outputs for n inputs from any state: ceil(n·L/M).
  size_t MaxOutput(size_t n) const { return (n * static_cast<size_t>(up_) + down_ - 1) / down_; }
  size_t ProcessPcm(const int16_t* in, size_t n, int16_t* out);
  size_t ProcessUlawIn(const uint8_t* in, size_t n, int16_t* out);
  size_t ProcessUlawOut(const int16_t* in, size_t n, uint8_t* out);
  void Reset();

 private:
  size_t Drain(size_t take, int16_t* out);
  size_t DrainDecimator(size_t take, int16_t* out);
  void PrepareDecimator();
  PairTaps AddPairs(const std::vector<int64_t>& taps);
  void Tiles(const Run* runs, int nruns, int count, int16_t* out, int stride) const;

  int up_;
  int down_;
  int history_;
  Isa isa_ = Isa::kScalar;
  std::vector<double> coefs_;
  std::vector<PhaseSpan> phases_;
  std::vector<int16_t> hi_;        // split coefficients, laid out like coefs_ (general L/M path)
  std::vector<int16_t> lo_;
  std::vector<PairTaps> phase_pairs_;  // per phase (interpolators)
  std::vector<int32_t> hi_pairs_;
  std::vector<int32_t> lo_pairs_;
  std::vector<int16_t> buf_;       // [history | block | slack]
  std::vector<int32_t> pairs_;     // interpolators: pairs_[i] = (buf_[i], buf_[i+1])
  std::vector<int16_t> residue_out_;        // interpolators: one block of outputs per residue
  std::vector<const int16_t*> residue_src_;  // … or, for the pure-delay residue, its samples in buf_
  int residue_stride_ = 0;
  std::vector<int16_t> scratch_;   // one block of outputs before μ-law encoding
  std::vector<long> first_offset_;
  std::vector<int> first_phase_;
  std::vector<int32_t> advance_;   // per phase: input samples to step after an output of that phase
  std::vector<int32_t> next_;      // per phase: phase of the following output
  // Decimators only: per (rotation, class) tap pairs, and the block deinterleaved into M classes of pairs.
  std::vector<PairTaps> dec_spans_;
  std::vector<int16_t> dec_x_;
  std::vector<int32_t> dec_src_;
  std::vector<Run> dec_runs_;
  int dec_stride_ = 0;
  int phase_ = 0;
  long offset_ = 0;
};

}  // namespace dsp
