// Counters shared by every stream of one gateway. The frame path bumps plain numbers (no prom-client call per
// frame); /metrics reads them at scrape time. Timing is sampled: one frame in `sampleEvery` is measured with
// performance.now() and handed to the observers (prom-client histogram, benchmark recorder).

export type EdgeErrorKind =
  | 'malformed-json'
  | 'invalid-field'
  | 'unknown-event'
  | 'binary-frame'
  | 'bad-media'
  | 'media-before-start'
  | 'duplicate-start'
  | 'unsupported-format'
  | 'call-mismatch'
  | 'start-timeout'
  | 'handler-error'
  | 'message-too-large'
  | 'send-dropped';

export type BackpressureAction = 'paused' | 'drop-oldest' | 'closed';

/**
 * uplink: one Plivo message in → caller audio delivered to the handler (parse, base64, μ-law → 16 kHz);
 * downlink: one playAgentAudio call (24 kHz → phone format, framing, queueing, and any frame it lets out);
 * send: one playAudio written and handed to the socket by the pacer.
 */
export type FrameDirection = 'uplink' | 'downlink' | 'send';
export type FrameObserver = (direction: FrameDirection, micros: number) => void;

export class EdgeStats {
  framesIn = 0;
  framesOut = 0;
  activeStreams = 0;
  readonly errors = new Map<EdgeErrorKind, number>();
  readonly backpressure = new Map<BackpressureAction, number>();
  droppedFrames = 0;
  /** Measure one frame in this many (1 = every frame, for benchmarks). */
  sampleEvery: number;
  uplinkCountdown: number;
  downlinkCountdown: number;
  sendCountdown: number;
  private readonly observers: FrameObserver[] = [];

  constructor(sampleEvery = 64) {
    this.sampleEvery = Math.max(1, Math.floor(sampleEvery));
    this.uplinkCountdown = this.sampleEvery;
    this.downlinkCountdown = this.sampleEvery;
    this.sendCountdown = this.sampleEvery;
  }

  error(kind: EdgeErrorKind): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  backpressureEvent(action: BackpressureAction): void {
    this.backpressure.set(action, (this.backpressure.get(action) ?? 0) + 1);
  }

  addObserver(fn: FrameObserver): () => void {
    this.observers.push(fn);
    return () => {
      const i = this.observers.indexOf(fn);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  observe(direction: FrameDirection, micros: number): void {
    for (const fn of this.observers) fn(direction, micros);
  }
}
