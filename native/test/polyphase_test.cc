// Standalone C++ checks of the polyphase engine and the G.711 tables, meant to run under ASan/UBSan
// (native/test/run-sanitizers.sh). The JS suites (tests/audio) check results against sox and the TS backend; this
// file checks what only native code can get wrong: out-of-bounds reads at block edges, history handling, and
// signed-overflow/UB in the index arithmetic, across every rate pair and random chunkings.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "../src/g711.h"
#include "../src/polyphase.h"

namespace {

int failures = 0;
int kernels_run[3] = {};

void Check(bool ok, const char* what, int a, int b) {
  if (!ok) {
    std::fprintf(stderr, "FAIL %s (%d/%d)\n", what, a, b);
    ++failures;
  }
}

// A windowed-sinc design laid out like src/audio/design.ts (values differ; layout and invariants are the same).
struct Design {
  int up, down, history;
  std::vector<double> coefs;
  std::vector<dsp::PhaseSpan> phases;
  std::vector<double> proto;  // prototype, Q22 integers, time order
};

Design Make(int up, int down) {
  const int taps = 24 * std::max(up, down) + 1;  // odd, centred: ×2 / ×3 get exact zeros at multiples of L
  Design d{up, down, 0, {}, {}, std::vector<double>(static_cast<size_t>(taps))};
  const double fc = 0.5 / std::max(up, down);
  for (int n = 0; n < taps; ++n) {
    const double t = n - (taps - 1) / 2.0;
    const double s = t == 0 ? 2 * fc : std::sin(2 * M_PI * fc * t) / (M_PI * t);
    const double w = 0.5 + 0.5 * std::cos(M_PI * t / ((taps + 1) / 2.0));
    d.proto[n] = std::round(s * w * up * (1 << dsp::kCoefShift));
  }
  for (int p = 0; p < up; ++p) {
    const int k = (taps - p + up - 1) / up;
    std::vector<double> rev(static_cast<size_t>(k));
    for (int j = 0; j < k; ++j) rev[j] = d.proto[p + (k - 1 - j) * up];
    // Trim zero taps like design.ts, so the ×2 / ×3 pure-delay phase (length 1) is exercised too.
    int lo = 0;
    while (lo < k - 1 && rev[lo] == 0) ++lo;
    int hi = k - 1;
    while (hi > lo && rev[hi] == 0) --hi;
    const int len = hi - lo + 1;
    const int pad = len == 1 ? 0 : (dsp::kLanes - len % dsp::kLanes) % dsp::kLanes;
    const dsp::PhaseSpan span{static_cast<int32_t>(d.coefs.size()), len + pad, k - 1 - lo + pad};
    for (int i = 0; i < pad; ++i) d.coefs.push_back(0);
    d.coefs.insert(d.coefs.end(), rev.begin() + lo, rev.begin() + hi + 1);
    d.phases.push_back(span);
    d.history = std::max(d.history, span.back);
  }
  return d;
}

// Direct form: y[m] = Σ_n proto[mM - nL] · x[n], rounded like the engine.
std::vector<int16_t> Reference(const Design& d, const std::vector<int16_t>& x, size_t count) {
  std::vector<int16_t> y(count);
  const long taps = static_cast<long>(d.proto.size());
  for (size_t m = 0; m < count; ++m) {
    const long t = static_cast<long>(m) * d.down;
    double acc = 0;
    for (long n = t / d.up; n >= 0 && t - n * d.up < taps; --n) acc += d.proto[t - n * d.up] * x[n];
    double v = std::floor((acc + (1 << (dsp::kCoefShift - 1))) / (1 << dsp::kCoefShift));
    v = std::min(32767.0, std::max(-32768.0, v));
    y[m] = static_cast<int16_t>(v);
  }
  return y;
}

void TestPair(int up, int down, std::mt19937& rng) {
  const Design d = Make(up, down);
  for (const dsp::PhaseSpan& s : d.phases) {
    Check(dsp::SplitFits(d.coefs.data() + s.offset, s.length), "split sums fit int32", up, down);
  }
  std::vector<int16_t> x(5000);
  std::uniform_int_distribution<int> sample(-32768, 32767);
  for (auto& v : x) v = static_cast<int16_t>(sample(rng));
  for (int trial = 0; trial < 30; ++trial) {
    // Every tile kernel this build and CPU have (scalar, AVX2, AVX-512), ten random chunkings each.
    const auto limit = static_cast<dsp::Isa>(trial / 10);
    dsp::Polyphase p(d.up, d.down, d.history, d.coefs, d.phases, limit);
    if (p.isa() != limit) continue;
    std::vector<int16_t> got;
    std::uniform_int_distribution<int> cut(trial % 2 ? 1 : 200, trial % 2 ? 40 : 1400);
    ++kernels_run[static_cast<int>(limit)];
    for (size_t start = 0; start < x.size();) {
      const size_t n = std::min(x.size() - start, static_cast<size_t>(cut(rng)));
      // Exactly-sized output buffer on the heap, so ASan catches any write past MaxOutput.
      std::vector<int16_t> out(p.MaxOutput(n));
      const size_t made = p.ProcessPcm(x.data() + start, n, out.data());
      Check(made <= out.size(), "output within MaxOutput", up, down);
      got.insert(got.end(), out.begin(), out.begin() + static_cast<long>(made));
      start += n;
    }
    Check(got.size() == (x.size() * up + down - 1) / down, "output count", up, down);
    const std::vector<int16_t> want = Reference(d, x, got.size());
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i] != want[i]) {
        Check(false, "matches direct form", up, down);
        break;
      }
    }
  }
}

}  // namespace

int main() {
  std::mt19937 rng(12345);
  const int pairs[][2] = {{2, 1}, {1, 3}, {1, 2}, {3, 1}, {3, 2}, {2, 3}, {5, 7}};
  for (const auto& pr : pairs) TestPair(pr[0], pr[1], rng);
  // G.711: decode ∘ encode is the identity on every code except 0x7f (−0 → +0).
  for (int c = 0; c < 256; ++c) {
    if (c != 0x7f) Check(dsp::UlawEncode(dsp::kUlaw.decode[c]) == c, "ulaw round trip", c, 0);
  }
  // The ×2 design really has a length-1 phase (otherwise the test above proves less than it claims).
  const Design half = Make(2, 1);
  Check(half.phases[0].length == 1 || half.phases[1].length == 1, "x2 design has a pure-delay phase", 2, 1);
  std::printf("tile kernels run: scalar %d, avx2 %d, avx512 %d; ", kernels_run[0], kernels_run[1], kernels_run[2]);
  std::printf(failures == 0 ? "polyphase_test: ok\n" : "polyphase_test: %d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
