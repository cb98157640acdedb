// Agent playback: a jitter buffer of 8 kHz samples played at the context's rate. Playback starts once 80 ms are
// buffered (or once nothing new has arrived for 60 ms: the end of a short turn), and an underrun goes back to
// buffering so that network jitter becomes a short pause instead of crackle. `clear` empties it at once.
// The played-sample counter is what the page answers checkpoints from: a checkpoint is "played" when the samples
// queued before it have left this buffer.
const IN_RATE = 8000;
const CAPACITY = IN_RATE * 60; // a minute: the gateway paces its audio 60 ms ahead, so this is never near full
const PREBUFFER = 640; // 80 ms
const IDLE_START_S = 0.06;
const REPORT_EVERY = 8; // render quanta (~21 ms at 48 kHz)

class PlayerProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buf = new Float32Array(CAPACITY);
    this.read = 0; // absolute sample counters; index = counter % CAPACITY
    this.write = 0;
    this.playing = false;
    this.frac = 0;
    this.step = IN_RATE / sampleRate;
    this.lastPush = 0;
    this.quanta = 0;
    this.dropped = 0;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === 'push') {
        const s = m.samples;
        for (let i = 0; i < s.length; i++) {
          if (this.write - this.read >= CAPACITY) {
            this.dropped++;
            break;
          }
          this.buf[this.write % CAPACITY] = s[i];
          this.write++;
        }
        this.lastPush = currentTime;
      } else if (m.type === 'clear') {
        this.read = this.write;
        this.frac = 0;
        this.playing = false;
        this.port.postMessage({ type: 'cleared', played: this.read, time: currentTime });
      }
    };
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    const buffered = this.write - this.read;
    if (!this.playing && buffered > 0 && (buffered >= PREBUFFER || currentTime - this.lastPush > IDLE_START_S)) {
      this.playing = true;
      this.port.postMessage({ type: 'started', time: currentTime, played: this.read });
    }
    for (let i = 0; i < out.length; i++) {
      if (!this.playing) {
        out[i] = 0;
        continue;
      }
      const avail = this.write - this.read;
      if (avail < 2) {
        // Underrun: play out the last sample, then buffer again.
        if (avail === 1) this.read++;
        out[i] = 0;
        this.playing = false;
        this.frac = 0;
        this.port.postMessage({ type: 'stopped', time: currentTime, played: this.read });
        continue;
      }
      const a = this.buf[this.read % CAPACITY];
      const b = this.buf[(this.read + 1) % CAPACITY];
      out[i] = a + (b - a) * this.frac;
      this.frac += this.step;
      while (this.frac >= 1) {
        this.frac -= 1;
        this.read++;
      }
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (++this.quanta % REPORT_EVERY === 0) this.port.postMessage({ type: 'played', played: this.read });
    return true;
  }
}

registerProcessor('player-processor', PlayerProcessor);
