// G.711 μ-law tables, built at compile time (constexpr), so there is no mutable static state: the addon stays
// context-aware when loaded in several worker threads. Same formulation as src/audio/g711.ts (bias 0x84, 16-bit
// input truncated to 14 bits), which is verified against sox/audioop vectors in tests/audio.
#pragma once

#include <array>
#include <cstdint>

namespace dsp {

constexpr int kBias = 0x84;
constexpr int kClip = 8159;

constexpr int16_t UlawDecodeOne(int code) {
  const int u = ~code & 0xff;
  const int t = (((u & 0x0f) << 3) + kBias) << ((u & 0x70) >> 4);
  return static_cast<int16_t>((u & 0x80) ? kBias - t : t - kBias);
}

constexpr uint8_t UlawEncode14(int value) {
  int mag = value;
  int mask = 0xff;
  if (mag < 0) {
    mag = -mag;
    mask = 0x7f;
  }
  if (mag > kClip) mag = kClip;
  mag += kBias >> 2;
  int seg = 0;
  for (int end = 0x3f; seg < 8 && mag > end; end = (end << 1) | 1) seg++;
  const int code = seg >= 8 ? 0x7f : (seg << 4) | ((mag >> (seg + 1)) & 0x0f);
  return static_cast<uint8_t>(code ^ mask);
}

struct UlawTables {
  std::array<int16_t, 256> decode{};
  std::array<double, 256> decode_f64{};
  // Indexed by (pcm16 >> 2) & 0x3fff: one load per sample instead of a segment search.
  std::array<uint8_t, 16384> encode{};
};

constexpr UlawTables MakeUlawTables() {
  UlawTables t{};
  for (int c = 0; c < 256; ++c) {
    t.decode[c] = UlawDecodeOne(c);
    t.decode_f64[c] = t.decode[c];
  }
  for (int i = 0; i < 16384; ++i) t.encode[i] = UlawEncode14(i >= 8192 ? i - 16384 : i);
  return t;
}

inline constexpr UlawTables kUlaw = MakeUlawTables();

inline uint8_t UlawEncode(int16_t s) { return kUlaw.encode[(s >> 2) & 0x3fff]; }

}  // namespace dsp
