// Streaming rational L/M polyphase FIR, the C++ twin of src/audio/ts-polyphase.ts. The design (coefficients and
// phase layout) comes from src/audio/design.ts as data, so both backends run identical integer-valued Q30
// coefficients; because every product and partial sum is an exact integer below 2^53, the vectorised dot product
// (any lane order, FMA or not) returns exactly what the scalar TS loop returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dsp {

constexpr int kBlock = 256;  // must equal BLOCK in src/audio/design.ts (only affects memory, not results)
constexpr int kCoefShift = 30;
constexpr int kLanes = 8;  // must equal PHASE_ALIGN in src/audio/design.ts

// One residue class of outputs (output index mod L) within a block: same phase, windows M samples apart.
struct Sweep {
  const double* coefs;
  int length;
  const double* x;  // window of its first output in this block
  int count;        // outputs of this residue in this block
};

// Decimator (L = 1) class: taps of one input-index class mod M, zeros trimmed (see polyphase.cc).
struct DecimSpan {
  int32_t offset;  // into dec_coefs_
  int32_t length;
  int32_t skip;  // leading zero taps trimmed
};

// A run of taps against samples that advance by one per output (see "Tiles" in polyphase.cc).
struct DecimClass {
  const double* coef;
  const double* src;  // first sample of output 0's run
  int length;
};

struct PhaseSpan {
  int32_t offset;  // into coefs
  int32_t length;
  int32_t back;  // window is x[n0 - back, n0 - back + length)
};

class Polyphase {
 public:
  Polyphase(int up, int down, int history, std::vector<double> coefs, std::vector<PhaseSpan> phases);

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

  int up_;
  int down_;
  int history_;
  std::vector<double> coefs_;
  std::vector<PhaseSpan> phases_;
  std::vector<double> buf_;        // [history | block]
  std::vector<int16_t> scratch_;   // one block of outputs before μ-law encoding
  std::vector<double> acc_;        // one block of exact sums before rounding
  std::vector<Sweep> sweeps_;      // per residue (output index mod L) within the current block
  std::vector<long> first_offset_;
  std::vector<int> first_phase_;
  std::vector<int32_t> advance_;   // per phase: input samples to step after an output of that phase
  std::vector<int32_t> next_;      // per phase: phase of the following output
  // Decimators only: per (rotation, class) spans, their taps, and the block deinterleaved into M classes.
  std::vector<DecimSpan> dec_spans_;
  std::vector<double> dec_coefs_;
  std::vector<double> dec_src_;
  std::vector<DecimClass> dec_classes_;
  int dec_stride_ = 0;
  int phase_ = 0;
  long offset_ = 0;
};

}  // namespace dsp
