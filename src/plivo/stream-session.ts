// One Plivo audio stream: the protocol state machine (awaiting-start → streaming → closed) and the PhoneLeg the
// call handler drives. It knows nothing about uWS: bytes leave through a StreamTransport, so unit tests can drive
// it with a fake socket and the gateway with a real one.
import type { AudioEngine, DownlinkConverter, UplinkConverter } from '../audio/types.ts';
import type {
  CallContext,
  CallMediaHandler,
  CallRouter,
  PhoneLeg,
  StreamEndReason,
  StreamStartInfo,
} from '../contract/call.ts';
import { AGENT_OUTPUT_RATE, FRAME_MS, type PhoneAudioFormat } from '../contract/media.ts';
import { errorMessage, InvalidStateError } from '../errors.ts';
import { callLogger, type Logger } from '../log.ts';
import { probeMessages, probes, publishStreamEvent } from '../probes/channels.ts';
import type { EdgeErrorKind, EdgeStats } from './edge-stats.ts';
import type { Pacer, Pumpable } from './pacer.ts';
import {
  BAD_MEDIA,
  checkpointMessage,
  clearAudioMessage,
  DTMF_DIGITS,
  decodeMediaFast,
  frameBytes,
  PlayAudioWriter,
  parseInbound,
  phoneFormatOf,
  type StartEvent,
  sendDtmfMessage,
} from './stream-codec.ts';

/** WebSocket close codes we use; 4xxx are application codes with the reason in the close message. */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  callMismatch: 4001,
  startTimeout: 4002,
  backpressure: 4003,
  /** The replay guard found the stream already served (the HTTP 409 of a refused upgrade, after the open). */
  streamReplayed: 4409,
  /** The call ended before its stream connected (the HTTP 410 of a refused upgrade, after the open). */
  callEnded: 4410,
} as const;

const CLOSE_FOR_REASON: Record<StreamEndReason, number> = {
  stop: CLOSE_CODES.normal,
  'socket-closed': CLOSE_CODES.normal,
  'protocol-error': CLOSE_CODES.policy,
  backpressure: CLOSE_CODES.backpressure,
  hangup: CLOSE_CODES.normal,
  shutdown: CLOSE_CODES.goingAway,
};

export interface StreamTransport {
  /** uWS semantics: 1 sent, 0 sent but buffered (backpressure), 2 dropped. */
  send(message: Uint8Array | string): number;
  bufferedAmount(): number;
  end(code: number, reason: string): void;
  /** Batch several sends into one write. */
  cork(fn: () => void): void;
}

export interface StreamLimits {
  /** Above this many bytes buffered in the socket we stop sending audio (uWS getBufferedAmount). */
  maxBackpressureBytes: number;
  /** Agent audio queued here beyond this is dropped oldest-first (bounded memory per call). */
  maxQueuedMs: number;
  /** A socket that stays over the backpressure limit this long is closed. */
  stallTimeoutMs: number;
}

export const DEFAULT_LIMITS: StreamLimits = {
  maxBackpressureBytes: 256 * 1024,
  maxQueuedMs: 60_000,
  stallTimeoutMs: 10_000,
};

export interface PlivoStreamOptions {
  /** The verified context from the stream token. */
  ctx: CallContext;
  transport: StreamTransport;
  audio: AudioEngine;
  router: Pick<CallRouter, 'attachStream'>;
  pacer: Pacer;
  stats: EdgeStats;
  limits?: Partial<StreamLimits>;
  /** Called once when the stream ends, whatever ended it. */
  onEnd?: (stream: PlivoStream, reason: StreamEndReason) => void;
  /** Called once when `start` was accepted. */
  onStart?: (stream: PlivoStream) => void;
}

const AWAITING_START = 0;
const STREAMING = 1;
const CLOSED = 2;

const SAMPLES_24K_PER_FRAME = (AGENT_OUTPUT_RATE * FRAME_MS) / 1000;
/** Largest inbound media payload accepted, in 20 ms frames (Plivo sends one; this bounds per-call memory). */
const MAX_INBOUND_FRAMES = 10;
/** Decode target for media that arrives before `start` (dropped, only decoded to classify it). */
const PRESTART_SCRATCH = new Uint8Array(16 * 1024);
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
/** The agent queue starts at 1 s (8 KB for μ-law) and doubles on demand up to maxQueuedMs. */
const INITIAL_QUEUE_FRAMES = 50;

interface Marker {
  at: number;
  name: string;
}

export class PlivoStream implements PhoneLeg, Pumpable {
  readonly ctx: CallContext;
  private readonly transport: StreamTransport;
  private readonly audio: AudioEngine;
  /** Inside downlink.push()/flush(): frames enqueued now are paced by the caller once it returns. */
  private pushing = false;
  private readonly router: Pick<CallRouter, 'attachStream'>;
  private readonly pacer: Pacer;
  private readonly stats: EdgeStats;
  private readonly limits: StreamLimits;
  private readonly onEndCb: PlivoStreamOptions['onEnd'];
  private readonly onStartCb: PlivoStreamOptions['onStart'];
  private log: Logger;

  private state = AWAITING_START;
  private wasStarted = false;
  private endReason: StreamEndReason | undefined;
  private handler: CallMediaHandler | undefined;
  private uplink: UplinkConverter | undefined;
  private downlink: DownlinkConverter | undefined;
  private writer: PlayAudioWriter | undefined;
  private _streamId = '';
  private _format: PhoneAudioFormat = { encoding: 'mulaw', sampleRate: 8000 };
  private frameSize = 160;
  private scratch: Uint8Array = PRESTART_SCRATCH;
  private scratchBuf: Buffer = Buffer.from(PRESTART_SCRATCH.buffer);
  private frameView: Uint8Array = PRESTART_SCRATCH;

  // Agent audio queue: a ring of whole frames, grown on demand up to maxQueuedMs.
  private ring = new Uint8Array(0);
  private ringFrames = 0;
  private head = 0;
  private count = 0;
  private maxFrames = 0;
  /** Frames ever queued / ever taken off the queue (sent or dropped): checkpoint positions use these. */
  private enqueuedTotal = 0;
  private dequeuedTotal = 0;
  private markers: Marker[] = [];
  /**
   * Agent audio pushed since the last clear (24 kHz samples) and the frame count at that clear. In pool mode
   * frames come back from the worker after playAgentAudio returns, so a checkpoint is anchored where the pushed
   * audio will end (20 ms = 480 samples per frame), not at what has arrived so far.
   */
  private pushedSamples = 0;
  private pushBase = 0;
  /**
   * Checkpoints sent and not yet confirmed, name → frames actually sent to Plivo when the checkpoint went out.
   * Counted in sent frames, not queue positions: frames dropped on overflow never reached Plivo, and counting them
   * as still ahead of the caller pushed playEnd tens of seconds out and silenced the call (issue 15 D5).
   */
  private readonly awaiting = new Map<string, number>();
  /** Frames handed to the socket (not dropped by the queue or by the socket). */
  private sentTotal = 0;
  /** Agent frames this call dropped on queue overflow (logged once per call, and in total at the end). */
  private droppedHere = 0;
  /** performance.now() at which everything sent so far will have been played (real-time estimate). */
  private playEnd = 0;
  private stallSince = 0;
  private dropEpisode = false;
  readonly createdAt = performance.now();

  constructor(o: PlivoStreamOptions) {
    this.ctx = o.ctx;
    this.transport = o.transport;
    this.audio = o.audio;
    this.router = o.router;
    this.pacer = o.pacer;
    this.stats = o.stats;
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    this.onEndCb = o.onEnd;
    this.onStartCb = o.onStart;
    this.log = callLogger(o.ctx.callId);
  }

  get callId(): string {
    return this.ctx.callId;
  }
  get streamId(): string {
    return this._streamId;
  }
  get format(): PhoneAudioFormat {
    return this._format;
  }
  /** Plivo's `start` was accepted (stays true after the stream closes). */
  get started(): boolean {
    return this.wasStarted;
  }
  get closed(): boolean {
    return this.state === CLOSED;
  }
  get reason(): StreamEndReason | undefined {
    return this.endReason;
  }

  // ---- inbound ------------------------------------------------------------------------------------------------

  /** Every WebSocket message. Bad input is counted and dropped; it never ends the call (except a wrong call id). */
  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    if (this.state === CLOSED) return;
    if (isBinary) {
      this.reject('binary-frame');
      return;
    }
    const sampled = --this.stats.uplinkCountdown <= 0;
    const t0 = sampled ? performance.now() : 0;
    if (probes.messageIn.hasSubscribers) {
      const m = probeMessages.messageIn;
      m.stream = this;
      m.at = sampled ? t0 : performance.now();
      probes.messageIn.publish(m);
    }
    const bytes = Buffer.from(message);
    const n = decodeMediaFast(bytes, this.scratch);
    if (n > 0) {
      this.onMedia(n);
    } else if (n === BAD_MEDIA) {
      this.reject('bad-media');
    } else {
      this.onSlowMessage(bytes.toString('utf8'));
    }
    if (sampled) {
      this.stats.uplinkCountdown = this.stats.sampleEvery;
      this.stats.observe('uplink', (performance.now() - t0) * 1000);
    }
  }

  private onSlowMessage(text: string): void {
    const r = parseInbound(text);
    if (!r.ok) {
      this.reject(r.reason);
      return;
    }
    const e = r.event;
    switch (e.event) {
      case 'media': {
        if (!BASE64_TEXT.test(e.payload) || e.payload.length % 4 !== 0 || e.payload.length === 0) {
          this.reject('bad-media');
          return;
        }
        if ((e.payload.length / 4) * 3 > this.scratch.length) {
          this.reject('bad-media');
          return;
        }
        this.onMedia(this.scratchBuf.write(e.payload, 0, 'base64'));
        return;
      }
      case 'start':
        this.onStart(e);
        return;
      case 'dtmf':
        if (this.state !== STREAMING) {
          this.reject('media-before-start');
          return;
        }
        this.deliver(() => this.handler!.onDtmf(e.digit));
        return;
      case 'playedStream': {
        if (this.state !== STREAMING) {
          this.reject('media-before-start');
          return;
        }
        const sentAt = this.awaiting.get(e.name);
        // Unknown names are stale acks (a checkpoint cancelled by clearAudio): ignore them.
        if (sentAt === undefined) return;
        this.awaiting.delete(e.name);
        // Plivo has played everything sent before the checkpoint; what was sent after it is still ahead.
        const behind = (this.sentTotal - sentAt) * FRAME_MS;
        const now = this.pacer.now();
        if (now + behind > this.playEnd) this.playEnd = now + behind;
        if (probes.playedStream.hasSubscribers) {
          const m = probeMessages.playedStream;
          m.stream = this;
          m.at = now;
          m.name = e.name;
          probes.playedStream.publish(m);
        }
        this.deliver(() => this.handler!.onPlayed(e.name));
        return;
      }
      case 'clearedAudio':
        if (this.state !== STREAMING) {
          this.reject('media-before-start');
          return;
        }
        if (probes.clearedAudio.hasSubscribers) publishStreamEvent('clearedAudio', this, this.pacer.now());
        this.deliver(() => this.handler!.onCleared());
        return;
      case 'stop':
        this.close('stop');
        return;
    }
  }

  private onMedia(n: number): void {
    if (this.state !== STREAMING) {
      this.reject('media-before-start');
      return;
    }
    if (this._format.encoding === 'l16' && (n & 1) === 1) {
      this.reject('bad-media');
      return;
    }
    this.stats.framesIn++;
    try {
      this.uplink!.push(n === this.frameSize ? this.frameView : this.scratch.subarray(0, n));
    } catch (err) {
      this.handlerError(err);
    }
  }

  private onStart(e: StartEvent): void {
    if (this.state !== AWAITING_START) {
      this.reject('duplicate-start');
      return;
    }
    if (e.callId !== this.ctx.callId) {
      // The token was minted for another call: this socket must not get that call's context.
      this.stats.error('call-mismatch');
      this.log.warn({ streamCallId: e.callId }, 'stream start for a different call than its token; closing');
      this.closeWith('protocol-error', CLOSE_CODES.callMismatch, 'call mismatch');
      return;
    }
    const format = phoneFormatOf(e.encoding, e.sampleRate);
    if (format === undefined) {
      this.stats.error('unsupported-format');
      this.log.warn({ encoding: e.encoding, sampleRate: e.sampleRate }, 'unsupported stream format; closing');
      this.closeWith('protocol-error', CLOSE_CODES.unsupportedData, 'unsupported media format');
      return;
    }
    this._streamId = e.streamId;
    this._format = format;
    this.log = callLogger(this.ctx.callId, { streamId: e.streamId });
    this.frameSize = frameBytes(format);
    this.scratch = new Uint8Array(this.frameSize * MAX_INBOUND_FRAMES);
    this.scratchBuf = Buffer.from(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
    this.frameView = this.scratch.subarray(0, this.frameSize);
    this.writer = new PlayAudioWriter(format);
    this.maxFrames = Math.max(1, Math.ceil(this.limits.maxQueuedMs / FRAME_MS));
    this.ringFrames = Math.min(INITIAL_QUEUE_FRAMES, this.maxFrames);
    this.ring = new Uint8Array(this.ringFrames * this.frameSize);
    this.state = STREAMING;
    this.wasStarted = true;
    // Before attachStream: the call may send agent audio (kept from a warm session) from inside it.
    if (probes.streamStart.hasSubscribers) {
      const m = probeMessages.streamStart;
      m.stream = this;
      m.at = this.pacer.now();
      m.encoding = format.encoding;
      m.sampleRate = format.sampleRate;
      probes.streamStart.publish(m);
    }
    const info: StreamStartInfo = {
      streamId: e.streamId,
      callId: e.callId,
      accountId: e.accountId,
      tracks: e.tracks,
      format,
      extraHeaders: e.extraHeaders,
    };
    try {
      this.uplink = this.audio.createUplink(format, (pcm16k) => {
        if (probes.callerAudio.hasSubscribers) {
          const m = probeMessages.callerAudio;
          m.stream = this;
          m.at = this.pacer.now();
          m.pcm16k = pcm16k;
          probes.callerAudio.publish(m);
        }
        this.handler?.onCallerAudio(pcm16k);
      });
      this.downlink = this.audio.createDownlink(format, (frame) => this.enqueue(frame));
      this.handler = this.router.attachStream(this.ctx, this, info);
    } catch (err) {
      this.stats.error('handler-error');
      this.log.error({ err: errorMessage(err) }, 'could not attach the stream to a call; closing');
      this.closeWith('protocol-error', CLOSE_CODES.internal, 'no call handler');
      return;
    }
    this.log.info({ format, tracks: e.tracks }, 'stream started');
    this.onStartCb?.(this);
  }

  /** The socket went away (closed by Plivo, by the network, or by us). */
  onTransportClose(code: number): void {
    if (this.state === CLOSED) return;
    // uWS closes with 1009 by itself when a message exceeds maxPayloadLength.
    this.finish(code === CLOSE_CODES.tooBig ? 'protocol-error' : 'socket-closed');
    this.log.info({ code }, 'stream socket closed');
  }

  /** uWS drain: the socket accepted what was buffered; resume sending. */
  onDrain(): void {
    if (this.state === STREAMING && this.count > 0) this.pacer.wake(this);
  }

  /** Plivo must send `start` first; a socket that never does is closed (called by the gateway's housekeeping). */
  expireIfNotStarted(now: number, timeoutMs: number): void {
    if (this.state !== AWAITING_START || now - this.createdAt < timeoutMs) return;
    this.stats.error('start-timeout');
    this.closeWith('protocol-error', CLOSE_CODES.startTimeout, 'no start event');
  }

  private reject(kind: EdgeErrorKind): void {
    this.stats.error(kind);
  }

  private deliver(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.handlerError(err);
    }
  }

  private handlerError(err: unknown): void {
    this.stats.error('handler-error');
    this.log.error({ err: errorMessage(err) }, 'call handler threw; event dropped');
  }

  // ---- PhoneLeg: outbound ---------------------------------------------------------------------------------------

  playAgentAudio(pcm24k: Int16Array): void {
    if (this.state !== STREAMING) return;
    const sampled = --this.stats.downlinkCountdown <= 0;
    const t0 = sampled ? performance.now() : 0;
    this.pushedSamples += pcm24k.length;
    // The downlink in one flow: convert (frames land in the ring through enqueue), then pace and send what the
    // lead allows, corked into one write (pump → sendAhead).
    this.pushing = true;
    try {
      this.downlink!.push(pcm24k);
    } finally {
      this.pushing = false;
    }
    if (this.count > 0) this.pacer.wake(this);
    if (sampled) {
      this.stats.downlinkCountdown = this.stats.sampleEvery;
      this.stats.observe('downlink', (performance.now() - t0) * 1000);
    }
  }

  flushAgentAudio(): void {
    if (this.state !== STREAMING) return;
    this.pushing = true;
    try {
      this.downlink!.flush();
    } finally {
      this.pushing = false;
    }
    if (this.count > 0) this.pacer.wake(this);
    if (probes.agentTurnEnd.hasSubscribers) publishStreamEvent('agentTurnEnd', this, this.pacer.now());
  }

  checkpoint(name: string): void {
    if (this.state !== STREAMING) return;
    // One frame of slack: resampler rounding must never anchor a checkpoint after the last frame (it would never
    // be sent); at worst it goes out 20 ms early.
    const expected = this.pushBase + Math.floor(this.pushedSamples / SAMPLES_24K_PER_FRAME) - 1;
    this.markers.push({ at: Math.max(this.enqueuedTotal, expected), name });
    this.pacer.wake(this);
  }

  clearAgentAudio(): void {
    if (this.state !== STREAMING) return;
    this.downlink!.clear();
    this.head = 0;
    this.count = 0;
    this.dequeuedTotal = this.enqueuedTotal;
    this.pushBase = this.enqueuedTotal;
    this.pushedSamples = 0;
    this.markers.length = 0;
    // Plivo never confirms a checkpoint whose audio was cleared.
    this.awaiting.clear();
    this.playEnd = this.pacer.now();
    this.pacer.remove(this);
    this.transport.send(clearAudioMessage(this._streamId));
    if (probes.clearAudio.hasSubscribers) publishStreamEvent('clearAudio', this, this.pacer.now());
  }

  sendDtmf(digits: string): void {
    if (this.state !== STREAMING) return;
    if (!DTMF_DIGITS.test(digits)) {
      throw new InvalidStateError('DTMF digits must match [0-9*#A-D]{1,64}', { callId: this.ctx.callId });
    }
    this.transport.send(sendDtmfMessage(digits));
  }

  pendingPlayoutMs(): number {
    const ahead = this.playEnd - this.pacer.now();
    return this.count * FRAME_MS + Math.max(ahead, 0);
  }

  /** Ends the stream (idempotent); `code`/`message` override the close frame chosen for `reason`. */
  close(reason: StreamEndReason, code = CLOSE_FOR_REASON[reason], message: string = reason): void {
    this.closeWith(reason, code, message);
  }

  private closeWith(reason: StreamEndReason, code: number, message: string): void {
    if (this.state === CLOSED) return;
    this.finish(reason);
    try {
      this.transport.end(code, message);
    } catch {
      // already closed underneath us
    }
  }

  private finish(reason: StreamEndReason): void {
    const wasStreaming = this.state === STREAMING;
    this.state = CLOSED;
    this.endReason = reason;
    this.pacer.remove(this);
    this.uplink?.close();
    this.downlink?.close();
    this.count = 0;
    // The warning was logged once, at the first drop; the total is in gateway_agent_frames_dropped_total.
    if (this.droppedHere > 0) {
      this.log.debug(
        { droppedFrames: this.droppedHere, droppedMs: this.droppedHere * FRAME_MS },
        'agent audio dropped',
      );
    }
    if (wasStreaming && probes.streamEnd.hasSubscribers) {
      const m = probeMessages.streamEnd;
      m.stream = this;
      m.at = this.pacer.now();
      m.reason = reason;
      probes.streamEnd.publish(m);
    }
    if (wasStreaming && this.handler) this.deliver(() => this.handler!.onStreamEnd(reason));
    this.onEndCb?.(this, reason);
  }

  // ---- queue and pacing ---------------------------------------------------------------------------------------

  /** Downlink converter output: one whole frame, valid only during this call. */
  private enqueue(frame: Uint8Array): void {
    if (this.state !== STREAMING) return;
    if (this.count === this.ringFrames && !this.grow()) {
      // Full: Plivo is not taking audio (or the agent outruns real time by maxQueuedMs). Keep the newest.
      this.head = (this.head + 1) % this.ringFrames;
      this.count--;
      this.dequeuedTotal++;
      this.stats.droppedFrames++;
      if (!this.dropEpisode) {
        this.dropEpisode = true;
        this.stats.backpressureEvent('drop-oldest');
      }
      if (this.droppedHere++ === 0) {
        this.log.warn({ queuedMs: this.count * FRAME_MS }, 'agent audio queue full; dropping oldest audio');
      }
    }
    const slot = (this.head + this.count) % this.ringFrames;
    this.ring.set(frame, slot * this.frameSize);
    this.count++;
    this.enqueuedTotal++;
    // Inline DSP: the frames of one push land here during playAgentAudio, which then paces them once. A converter
    // that delivers later (the piscina pool) calls in from its own completion: then only this can wake the pacer.
    if (!this.pushing) this.pacer.wake(this);
  }

  private grow(): boolean {
    if (this.ringFrames >= this.maxFrames) return false;
    const frames = Math.min(this.ringFrames * 2, this.maxFrames);
    const next = new Uint8Array(frames * this.frameSize);
    // Unwrap into the new ring so head starts at 0.
    for (let i = 0; i < this.count; i++) {
      const from = ((this.head + i) % this.ringFrames) * this.frameSize;
      next.set(this.ring.subarray(from, from + this.frameSize), i * this.frameSize);
    }
    this.ring = next;
    this.ringFrames = frames;
    this.head = 0;
    return true;
  }

  pump(now: number): boolean {
    if (this.state !== STREAMING) return false;
    if (this.count > 0 && this.transport.bufferedAmount() > this.limits.maxBackpressureBytes) {
      return this.stalled(now);
    }
    this.stallSince = 0;
    if (this.count > 0 && this.playEnd - now < this.pacer.topUpBelowMs) {
      this.corkNow = now;
      this.transport.cork(this.sendAheadCorked);
    }
    if (this.markers.length > 0) this.sendDueMarkers();
    return this.count > 0;
  }

  /** Bound once: pump() corks this every tick, and a closure per call would be garbage every 10 ms per stream. */
  private readonly sendAheadCorked = (): void => this.sendAhead(this.corkNow, this.pacer.leadMs);
  private corkNow = 0;

  private sendAhead(now: number, lead: number): void {
    const writer = this.writer!;
    while (this.count > 0 && this.playEnd - now < lead) {
      const sampled = --this.stats.sendCountdown <= 0;
      const t0 = sampled ? performance.now() : 0;
      const status = this.transport.send(writer.writeFrom(this.ring, this.head * this.frameSize));
      if (probes.playAudio.hasSubscribers) {
        const m = probeMessages.playAudio;
        m.stream = this;
        m.at = now;
        m.bytes = this.ring;
        m.offset = this.head * this.frameSize;
        m.length = this.frameSize;
        m.playAt = Math.max(this.playEnd, now);
        m.lateMs = now - this.playEnd;
        probes.playAudio.publish(m);
      }
      this.head = (this.head + 1) % this.ringFrames;
      this.count--;
      this.dequeuedTotal++;
      if (status === 2) {
        this.stats.error('send-dropped');
      } else {
        this.stats.framesOut++;
        this.sentTotal++;
      }
      this.playEnd = Math.max(this.playEnd, now) + FRAME_MS;
      if (this.markers.length > 0) this.sendDueMarkers();
      if (sampled) {
        this.stats.sendCountdown = this.stats.sampleEvery;
        this.stats.observe('send', (performance.now() - t0) * 1000);
      }
    }
    if (this.count === 0) this.dropEpisode = false;
  }

  private sendDueMarkers(): void {
    while (this.markers.length > 0 && this.markers[0]!.at <= this.dequeuedTotal) {
      const m = this.markers.shift()!;
      this.awaiting.set(m.name, this.sentTotal);
      this.transport.send(checkpointMessage(this._streamId, m.name));
    }
  }

  private stalled(now: number): boolean {
    if (this.stallSince === 0) {
      this.stallSince = now;
      this.stats.backpressureEvent('paused');
      this.log.warn({ buffered: this.transport.bufferedAmount() }, 'Plivo is not reading; pausing agent audio');
      return true;
    }
    if (now - this.stallSince > this.limits.stallTimeoutMs) {
      this.stats.backpressureEvent('closed');
      this.log.error({ stalledMs: Math.round(now - this.stallSince) }, 'Plivo socket stalled; closing stream');
      this.close('backpressure');
      return false;
    }
    return true;
  }
}
