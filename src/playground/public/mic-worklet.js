// Microphone → 8 kHz μ-law, 20 ms (160-sample) frames, on the audio thread. The context runs at the device rate
// (44.1/48 kHz…): two biquad low-passes at 3.4 kHz (telephone band) keep the 8 kHz resampling free of aliasing,
// then linear interpolation picks the 8 kHz samples. Each frame is posted with its level and audio-clock time, so
// the page can time the agent's answers against the end of the caller's speech on one clock.
const OUT_RATE = 8000;
const FRAME = 160;

function lowpass(fs, f0) {
  // RBJ cookbook low-pass, Q = 1/√2.
  const w = (2 * Math.PI * f0) / fs;
  const alpha = Math.sin(w) / Math.SQRT2;
  const cos = Math.cos(w);
  const a0 = 1 + alpha;
  return {
    b0: (1 - cos) / 2 / a0,
    b1: (1 - cos) / a0,
    b2: (1 - cos) / 2 / a0,
    a1: (-2 * cos) / a0,
    a2: (1 - alpha) / a0,
    x1: 0,
    x2: 0,
    y1: 0,
    y2: 0,
  };
}

function run(f, x) {
  const y = f.b0 * x + f.b1 * f.x1 + f.b2 * f.x2 - f.a1 * f.y1 - f.a2 * f.y2;
  f.x2 = f.x1;
  f.x1 = x;
  f.y2 = f.y1;
  f.y1 = y;
  return y;
}

/** G.711 μ-law encoder (ITU-T G.711, bias 0x84, clip 32635). */
function ulaw(sample) {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample * 32768)));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > 32635) s = 32635;
  s += 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

class MicProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.f1 = lowpass(sampleRate, 3400);
    this.f2 = lowpass(sampleRate, 3400);
    this.step = sampleRate / OUT_RATE;
    this.pos = 0; // position of the next output sample, in input samples relative to `prev`
    this.prev = 0;
    this.frame = new Uint8Array(FRAME);
    this.n = 0;
    this.energy = 0;
    this.muted = false;
    this.port.onmessage = (e) => {
      if (e.data?.type === 'mute') this.muted = !!e.data.muted;
    };
  }

  process(inputs) {
    const ch = inputs[0]?.[0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      const x = run(this.f2, run(this.f1, this.muted ? 0 : ch[i]));
      // Output samples between prev (t=0) and x (t=1).
      while (this.pos <= 1) {
        const v = this.prev + (x - this.prev) * this.pos;
        this.energy += v * v;
        this.frame[this.n++] = ulaw(v);
        this.pos += this.step;
        if (this.n === FRAME) {
          const rms = Math.sqrt(this.energy / FRAME);
          this.port.postMessage({ type: 'frame', payload: this.frame, rms, time: currentTime }, [this.frame.buffer]);
          this.frame = new Uint8Array(FRAME);
          this.n = 0;
          this.energy = 0;
        }
      }
      this.pos -= 1;
      this.prev = x;
    }
    return true;
  }
}

registerProcessor('mic-processor', MicProcessor);
