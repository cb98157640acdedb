// One simulated phone call as Plivo runs it: answer webhook, XML, the audio stream (Plivo's side of the WebSocket
// protocol, with a real-time playback model for what the gateway plays), and the hangup callback. This file is the
// behaviour; the messages are in stream-wire.ts (pure), the fault knobs in faults.ts, playback in playback.ts.
import { randomUUID } from 'node:crypto';
import { callLogger, type Logger } from '../../log.ts';
import {
  decodeL16,
  FRAME_MS,
  type FramePiece,
  framesFor,
  pieceFrame,
  pieceLength,
  type StreamFormat,
  silenceFrame,
} from './audio-source.ts';
import { EventLog } from './event-log.ts';
import { pauseReading, resumeReading, sendRaw } from './faults.ts';
import type { MediaClock, Ticking } from './media-clock.ts';
import { checkPlayAudio, Playback } from './playback.ts';
import { causeName, parseContentType, plivoNumber, plivoTime } from './plivo-values.ts';
import { resample } from './resample.ts';
import { type SignatureMode, signatureHeaders } from './signature.ts';
import {
  clearedAudioMessage,
  DTMF_DIGIT,
  decodeGatewayMessage,
  dtmfMessage,
  type MediaFraming,
  mediaFraming,
  mediaMessage,
  playedStreamMessage,
  type StreamIds,
  startMessage,
  stopMessage,
  streamIdProblem,
} from './stream-wire.ts';
import type { AudioSource, CallStatus, PlayedChunk, ReceivedEvent, SimulatedCall, StreamEnd } from './types.ts';
import { ulawDecode, ulawEncode } from './ulaw.ts';
import { callWebhook } from './webhook.ts';
import { WebSocketClient, WS_OPEN, type WsClient } from './ws-client.ts';
import { findAll, parseXml, type XmlElement } from './xml.ts';

export interface CallContext {
  authId: string;
  authToken: string;
  clock: MediaClock;
  webhookTimeoutMs: number;
  wsSignatureScheme: 'http' | 'ws';
  /** Called whenever status or stream state changes (drives waitForCall). */
  onChange(call: PlivoCall): void;
}

export interface CallSetup {
  callUuid: string;
  direction: 'inbound' | 'outbound';
  from: string;
  to: string;
  answerUrl: string;
  answerMethod: 'GET' | 'POST';
  hangupUrl: string | undefined;
  signature: SignatureMode;
  recordPlayed: boolean;
  idleMedia: 'silence' | 'none';
  /** Extra answer/hangup webhook parameters (outbound: ALegUUID…). */
  extraParams?: Record<string, string>;
}

interface Segment {
  piece: FramePiece;
  idx: number;
  len: number;
  done: () => void;
}

const MAX_CATCHUP_FRAMES = 25;
const MAX_LAG_MS = 1000;
/** Plivo buffers about 40 s of media for a slow consumer; beyond that we drop frames rather than grow without bound. */
const MAX_SEND_BUFFER = 40 * 50 * 700;
const MAX_ERRORS = 1000;
const CONNECT_ATTEMPTS = 3;
const CONNECT_RETRY_MS = 100;

export class PlivoCall implements SimulatedCall, Ticking {
  readonly callUuid: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  status: CallStatus = 'queued';
  answerStatus = 0;
  answerXml = '';
  streamUrl: string | undefined;
  streamId: string | undefined;
  streamAttributes: Record<string, string> = {};
  upgradeStatus: number | undefined;
  private readonly events = new EventLog();
  get received(): ReceivedEvent[] {
    return this.events.received;
  }
  readonly errors: string[] = [];
  hangupParams: Record<string, string> | undefined;
  transferXml: string | undefined;
  transferredTo: string[] = [];
  /** Transfers requested through the API (Plivo allows 70 per call). */
  transfers = 0;
  /** Totals kept even when recordPlayed is false. */
  readonly stats = {
    playAudio: 0,
    playedBytes: 0,
    clearedBytes: 0,
    mediaSent: 0,
    /** Frames not sent because the gateway stopped reading (send buffer full). */
    mediaDropped: 0,
    /** Frames skipped because this process fell more than a second behind (overloaded host). */
    mediaSkipped: 0,
    /** performance.now() of the first and latest accepted playAudio (0 before any). */
    firstPlayAt: 0,
    lastPlayAt: 0,
  };
  readonly ended: Promise<StreamEnd>;
  readonly completed: Promise<void>;
  /** Resolves once the stream is up, or the call is over without one. */
  readonly ready: Promise<void>;

  private readonly ctx: CallContext;
  private readonly setup: CallSetup;
  private readonly log: Logger;
  private ws: WsClient | undefined;
  private fmt: StreamFormat = { encoding: 'audio/x-mulaw', sampleRate: 8000 };
  private bidirectional = false;
  private extraHeaders = '';
  private seq = 0;
  private chunk = 0;
  private streamEpoch = 0;
  private nextFrameAt = 0;
  private streaming = false;
  private closingBy: 'gateway' | 'emulator' | undefined;
  private readonly segments: Segment[] = [];
  private readonly playback: Playback;
  private readonly sendPlayedBound = (name: string) => this.sendPlayed(name);
  private finished = false;
  private transferring = false;
  /** Bumped when a transfer replaces the running XML: the old run stops where it is (it never hangs up). */
  private xmlRun = 0;
  private sendBufferWarned = false;
  private hangupCause: { cause: string; source: string } | undefined;
  private hangingUp: Promise<void> | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private startedAt = new Date();
  private answeredAt: Date | undefined;
  private framing: MediaFraming = { head: '', tail: '' };
  private resolveEnded!: (e: StreamEnd) => void;
  private resolveCompleted!: () => void;
  private resolveReady!: () => void;
  private streamClosed: Promise<void> = Promise.resolve();
  private resolveStreamClosed: () => void = () => {};

  constructor(ctx: CallContext, setup: CallSetup) {
    this.ctx = ctx;
    this.setup = setup;
    this.callUuid = setup.callUuid;
    this.direction = setup.direction;
    this.from = setup.from;
    this.to = setup.to;
    this.log = callLogger(setup.callUuid, { component: 'plivo-emulator' });
    this.playback = new Playback(this.stats, setup.recordPlayed);
    this.ended = new Promise((r) => {
      this.resolveEnded = r;
    });
    this.completed = new Promise((r) => {
      this.resolveCompleted = r;
    });
    this.ready = new Promise((r) => {
      this.resolveReady = r;
    });
  }

  get isFinished(): boolean {
    return this.finished;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Call flow

  setStatus(status: CallStatus): void {
    this.status = status;
    this.ctx.onChange(this);
  }

  /** Answers (inbound: the call arrives; outbound: the callee picked up) and runs the answer XML. */
  async answer(initialAudio?: AudioSource): Promise<void> {
    this.answeredAt = new Date();
    const callStatus = this.direction === 'inbound' ? 'ringing' : 'in-progress';
    if (this.direction === 'outbound') this.setStatus('in-progress');
    const res = await callWebhook({
      url: this.setup.answerUrl,
      method: this.setup.answerMethod,
      params: { ...this.baseParams(callStatus), Event: 'StartApp' },
      signature: this.setup.signature,
      authToken: this.ctx.authToken,
      timeoutMs: this.ctx.webhookTimeoutMs,
    });
    this.answerStatus = res.status;
    // The caller may have hung up (or the emulator closed) while the gateway was answering.
    if (this.finished) return;
    if (res.error || res.status < 200 || res.status >= 300) {
      this.error(`answer webhook failed: ${res.error ?? `HTTP ${res.status}`}`);
      await this.finish({ cause: 'ANSWER_URL_FAILED', source: 'Error' }, 'failed');
      return;
    }
    this.answerXml = res.body;
    if (this.direction === 'inbound') this.setStatus('in-progress');
    let root: XmlElement;
    try {
      root = parseXml(res.body);
      if (root.name !== 'Response') throw new Error(`root element is <${root.name}>, not <Response>`);
    } catch (err) {
      this.error(`invalid answer XML: ${(err as Error).message}`);
      await this.finish({ cause: 'INVALID_ANSWER_XML', source: 'Error' }, 'completed');
      return;
    }
    await this.runXml(root, initialAudio);
  }

  private async runXml(root: XmlElement, initialAudio: AudioSource | undefined): Promise<void> {
    const run = ++this.xmlRun;
    let sawStream = false;
    for (const el of root.children) {
      if (this.finished || this.transferring || run !== this.xmlRun) return;
      if (el.name === 'Stream') {
        if (sawStream) {
          this.error('more than one <Stream> in the answer XML (Plivo allows one stream per call)');
          continue;
        }
        sawStream = true;
        const keepAlive = el.attrs.keepCallAlive === 'true';
        await this.openStream(el, initialAudio);
        if (keepAlive) await this.streamClosed;
      } else if (el.name === 'Hangup') {
        break;
      } else if (el.name === 'Wait') {
        const s = Number(el.attrs.length ?? '1');
        await this.sleep(Number.isFinite(s) && s > 0 ? s * 1000 : 1000);
      }
      // Speak, Play, Dial… are outside what the gateway uses: they execute instantly here.
    }
    if (this.finished || this.transferring || run !== this.xmlRun) return;
    if (!sawStream) this.resolveReady();
    if (this.streaming) this.error('XML ran out while the stream was open (keepCallAlive not "true"): Plivo hangs up');
    await this.stopStream('emulator', 1000, 'call ended');
    await this.finish(this.hangupCause ?? { cause: 'NORMAL_CLEARING', source: 'Answer XML' }, 'completed');
  }

  /** Caller/callee hangs up (or Plivo, through the API). */
  hangup(opts: { cause?: string; source?: string } = {}): Promise<void> {
    if (this.finished) return this.completed;
    // The first hangup wins (e.g. a test's hangup racing the emulator's close()).
    this.hangingUp ??= this.doHangup(opts);
    return this.hangingUp;
  }

  private async doHangup(opts: { cause?: string; source?: string }): Promise<void> {
    const source = opts.source ?? (this.direction === 'inbound' ? 'Caller' : 'Callee');
    this.hangupCause = { cause: opts.cause ?? 'NORMAL_CLEARING', source };
    if (this.status === 'queued' || this.status === 'ringing') {
      await this.finish(this.hangupCause, 'cancel');
      return;
    }
    await this.stopStream('emulator', 1000, 'call ended');
    await this.finish(this.hangupCause, 'completed');
  }

  /**
   * `POST Call/{uuid}/` with legs=aleg: Plivo fetches aleg_url and runs that XML on the caller's leg in place of
   * the running XML (plivo.com/docs/voice/api/call/transfer-a-call). The running stream stops. XML with a
   * `<Stream>` opens a new stream for the same CallUUID and the call stays up (no hangup callback); XML with only
   * `<Dial>` targets is recorded and the leg ends here (the dialled party is not emulated).
   */
  async transfer(alegUrl: string, method: 'GET' | 'POST'): Promise<void> {
    if (this.finished || this.transferring) return;
    this.transferring = true;
    this.transfers++;
    const res = await callWebhook({
      url: alegUrl,
      method,
      params: { ...this.baseParams('in-progress'), Event: 'Transfer' },
      signature: this.setup.signature,
      authToken: this.ctx.authToken,
      timeoutMs: this.ctx.webhookTimeoutMs,
    });
    let root: XmlElement | undefined;
    if (res.error || res.status < 200 || res.status >= 300) {
      this.error(`transfer aleg_url failed: ${res.error ?? `HTTP ${res.status}`}`);
    } else {
      this.transferXml = res.body;
      try {
        root = parseXml(res.body);
        if (root.name !== 'Response') throw new Error(`root element is <${root.name}>, not <Response>`);
        for (const dial of findAll(root, 'Dial')) {
          for (const n of findAll(dial, 'Number')) this.transferredTo.push(n.text.trim());
          for (const u of findAll(dial, 'User')) this.transferredTo.push(u.text.trim());
        }
      } catch (err) {
        root = undefined;
        this.error(`invalid transfer XML: ${(err as Error).message}`);
      }
    }
    // The old XML (waiting on its keepCallAlive stream) must not run on and hang up.
    this.xmlRun++;
    await this.stopStream('emulator', 1000, 'call transferred');
    if (root !== undefined && findAll(root, 'Stream').length > 0 && !this.finished) {
      this.transferring = false;
      this.closingBy = undefined;
      this.ws = undefined;
      await this.runXml(root, undefined);
      return;
    }
    // The transferred leg ends right away here; its hangup is reported to the original hangup_url.
    await this.finish({ cause: 'NORMAL_CLEARING', source: 'Callee' }, 'completed');
  }

  /** Ends the call and posts the hangup callback (once). */
  async finish(cause: { cause: string; source: string }, status: CallStatus): Promise<void> {
    if (this.finished) return this.completed;
    this.finished = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.resolveReady();
    if (!this.ws) this.resolveEnded({ code: 0, reason: 'no stream', by: 'emulator' });
    this.setStatus(status);
    const end = new Date();
    const answered = this.answeredAt && (status === 'completed' || status === 'failed') ? this.answeredAt : undefined;
    const duration = answered ? Math.max(0, Math.ceil((end.getTime() - answered.getTime()) / 1000)) : 0;
    const params: Record<string, string> = {
      ...this.baseParams(status),
      Event: 'Hangup',
      HangupCause: cause.cause,
      HangupCauseName: causeName(cause.cause),
      HangupSource: cause.source,
      Duration: String(duration),
      BillDuration: String(duration > 0 ? Math.ceil(duration / 60) * 60 : 0),
      BillRate: '0.00850',
      TotalCost: '0.00000',
      StartTime: plivoTime(this.startedAt),
      AnswerTime: answered ? plivoTime(answered) : '',
      EndTime: plivoTime(end),
    };
    this.hangupParams = params;
    this.log.debug({ cause: cause.cause, source: cause.source, status }, 'emulated call ended');
    if (this.setup.hangupUrl) {
      const res = await callWebhook({
        url: this.setup.hangupUrl,
        params,
        signature: this.setup.signature,
        authToken: this.ctx.authToken,
        timeoutMs: this.ctx.webhookTimeoutMs,
      });
      if (res.error || res.status < 200 || res.status >= 300) {
        this.error(`hangup webhook failed: ${res.error ?? `HTTP ${res.status}`}`);
      }
    }
    this.ctx.onChange(this);
    this.resolveCompleted();
  }

  baseParams(callStatus: string): Record<string, string> {
    return {
      CallUUID: this.callUuid,
      RequestUUID: this.callUuid,
      From: plivoNumber(this.from),
      To: plivoNumber(this.to),
      Direction: this.direction,
      CallStatus: callStatus,
      CallerName: plivoNumber(this.from),
      SessionStart: plivoTime(this.startedAt),
      ...this.setup.extraParams,
    };
  }

  /** Posts to a Plivo callback URL (ring, machine detection…) with this call's parameters, signed. */
  async notify(url: string, params: Record<string, string>, method: 'GET' | 'POST' = 'POST'): Promise<void> {
    const res = await callWebhook({
      url,
      method,
      params,
      signature: this.setup.signature,
      authToken: this.ctx.authToken,
      timeoutMs: this.ctx.webhookTimeoutMs,
    });
    if (res.error || res.status < 200 || res.status >= 300) {
      this.error(`callback ${params.Event ?? ''} failed: ${res.error ?? `HTTP ${res.status}`}`);
    }
  }

  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.later(ms, r));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Stream

  private async openStream(el: XmlElement, initialAudio: AudioSource | undefined): Promise<void> {
    this.streamAttributes = { ...el.attrs };
    const url = el.text.trim();
    this.streamUrl = url;
    const a = el.attrs;
    const fmt = parseContentType(a.contentType ?? 'audio/x-l16;rate=8000');
    if (!fmt) {
      this.error(`<Stream> contentType "${a.contentType}" is not one Plivo accepts`);
      this.resolveReady();
      return;
    }
    this.fmt = fmt;
    this.bidirectional = a.bidirectional === 'true';
    const track = a.audioTrack ?? 'inbound';
    if (!['inbound', 'outbound', 'both'].includes(track)) this.error(`<Stream> audioTrack "${track}" is invalid`);
    if (this.bidirectional && track !== 'inbound') {
      this.error('<Stream bidirectional="true"> requires audioTrack inbound');
    }
    this.extraHeaders = a.extraHeaders ?? '';
    if (Buffer.byteLength(this.extraHeaders) > 512) this.error('<Stream> extraHeaders over 512 bytes');
    if (!/^wss?:\/\//.test(url)) {
      this.error(`<Stream> body is not a ws:// or wss:// URL: "${url.slice(0, 100)}"`);
      await this.streamStatus('DroppedStream', 'invalid_url');
      this.resolveReady();
      return;
    }
    if (url.length > 2048) this.error('<Stream> URL over 2048 characters');
    for (let attempt = 1; attempt <= CONNECT_ATTEMPTS && !this.finished; attempt++) {
      const ws = await this.connect(url);
      if (ws) {
        this.onOpen(ws, track, initialAudio);
        return;
      }
      if (attempt < CONNECT_ATTEMPTS) await this.sleep(CONNECT_RETRY_MS);
    }
    this.error('stream connection failed after 3 attempts');
    await this.streamStatus('DroppedStream', 'connection_failed');
    this.resolveReady();
  }

  private connect(url: string): Promise<WsClient | undefined> {
    const signedUrl = this.ctx.wsSignatureScheme === 'http' ? url.replace(/^ws/, 'http') : url;
    const headers = signatureHeaders(this.setup.signature, this.ctx.authToken, 'GET', signedUrl);
    return new Promise((resolve) => {
      let settled = false;
      const done = (ws: WsClient | undefined) => {
        if (!settled) {
          settled = true;
          resolve(ws);
        }
      };
      let ws: WsClient;
      try {
        ws = new WebSocketClient(url, { headers, perMessageDeflate: false, handshakeTimeout: 5000 });
      } catch (err) {
        this.error(`stream connect: ${(err as Error).message}`);
        done(undefined);
        return;
      }
      ws.on('unexpected-response', (req, res) => {
        this.upgradeStatus = res.statusCode;
        this.error(`stream upgrade rejected: HTTP ${res.statusCode}`);
        res.resume();
        req.destroy();
        done(undefined);
      });
      ws.on('error', (err) => {
        if (!settled) this.error(`stream connect: ${err.message}`);
        done(undefined);
      });
      ws.on('open', () => done(ws));
    });
  }

  private onOpen(ws: WsClient, track: string, initialAudio: AudioSource | undefined): void {
    if (this.finished) {
      ws.terminate();
      return;
    }
    this.ws = ws;
    this.streamId = randomUUID();
    this.streamClosed = new Promise((r) => {
      this.resolveStreamClosed = r;
    });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('error', (err) => this.error(`stream socket error: ${err.message}`));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    this.streamEpoch = Date.now();
    this.framing = mediaFraming(this.streamId, this.extraHeaders);
    this.sendText(
      startMessage(
        ++this.seq,
        this.ids(),
        track === 'both' ? ['inbound', 'outbound'] : [track],
        this.fmt,
        this.extraHeaders,
      ),
    );
    this.streaming = true;
    this.nextFrameAt = performance.now() + FRAME_MS;
    this.playback.fmt = this.fmt;
    this.ctx.clock.add(this);
    this.ctx.onChange(this);
    void this.streamStatus('StartStream', 'started');
    if (initialAudio) void this.sendAudio(initialAudio).catch((err) => this.error(`audio: ${err.message}`));
    this.resolveReady();
  }

  private onClose(code: number, reason: string): void {
    const by = this.closingBy ?? 'gateway';
    this.closingBy = by;
    this.endStreaming();
    this.resolveEnded({ code, reason, by });
    this.resolveStreamClosed();
    this.log.debug({ code, by }, 'emulated stream closed');
    void this.streamStatus('StopStream', by === 'gateway' ? 'closed_by_server' : 'completed');
    this.ctx.onChange(this);
  }

  private endStreaming(): void {
    if (!this.streaming) return;
    this.streaming = false;
    this.ctx.clock.remove(this);
    for (const s of this.segments.splice(0)) s.done();
    this.events.failWaiters();
  }

  /** Sends `stop` and closes the socket; resolves when it is closed. */
  async stopStream(by: 'gateway' | 'emulator', code: number, reason: string): Promise<void> {
    const ws = this.ws;
    if (!ws || this.closingBy) {
      await this.streamClosedOrTimeout();
      return;
    }
    this.closingBy = by;
    if (ws.readyState === WS_OPEN) {
      this.sendText(stopMessage(++this.seq, this.ids(), reason, this.extraHeaders));
      ws.close(code, reason);
    } else {
      ws.terminate();
    }
    this.endStreaming();
    await this.streamClosedOrTimeout();
  }

  private async streamClosedOrTimeout(): Promise<void> {
    if (!this.ws) return;
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      t = setTimeout(() => r('timeout'), 2000);
    });
    const r = await Promise.race([this.streamClosed.then(() => 'closed' as const), timeout]);
    clearTimeout(t);
    if (r === 'timeout') {
      // A peer that ignores the close frame: cut the TCP connection as Plivo would.
      this.ws.terminate();
      await this.streamClosed;
    }
  }

  private async streamStatus(event: string, reason: string): Promise<void> {
    const url = this.streamAttributes.statusCallbackUrl;
    if (!url) return;
    const method = this.streamAttributes.statusCallbackMethod === 'GET' ? 'GET' : 'POST';
    await this.notify(
      url,
      {
        CallUUID: this.callUuid,
        StreamID: this.streamId ?? '',
        Event: event,
        StatusReason: reason,
        Timestamp: new Date().toISOString(),
        From: plivoNumber(this.from),
        To: plivoNumber(this.to),
        Direction: this.direction,
        ServiceURL: this.streamUrl ?? '',
        ...(event === 'StopStream' ? { Duration: String(Math.round((Date.now() - this.streamEpoch) / 1000)) } : {}),
      },
      method,
    );
  }

  // Shared clock: media frames and checkpoints that are due.
  onTick(now: number): void {
    const ws = this.ws;
    if (!ws || !this.streaming) return;
    this.playback.due(now, this.sendPlayedBound);
    let n = 0;
    while (this.nextFrameAt <= now && n < MAX_CATCHUP_FRAMES) {
      this.nextFrameAt += FRAME_MS;
      n++;
      const payload = this.nextPayload();
      if (payload === undefined) continue;
      if (ws.bufferedAmount > MAX_SEND_BUFFER) {
        this.stats.mediaDropped++;
        if (!this.sendBufferWarned) {
          this.sendBufferWarned = true;
          this.error('gateway is not reading the stream: media dropped');
        }
        continue;
      }
      this.chunk++;
      const ts = this.streamEpoch + (this.chunk - 1) * FRAME_MS;
      ws.send(mediaMessage(this.framing, ++this.seq, ts, this.chunk, payload));
      this.stats.mediaSent++;
    }
    // Late frames go out late (in a burst, like a jittery network), but past a second behind the host is overloaded:
    // skip ahead rather than spiral, and count it so a benchmark can tell the emulator was the bottleneck.
    if (now - this.nextFrameAt > MAX_LAG_MS) {
      const skipped = Math.floor((now - this.nextFrameAt) / FRAME_MS) + 1;
      this.stats.mediaSkipped += skipped;
      this.nextFrameAt += skipped * FRAME_MS;
    }
  }

  private nextPayload(): string | undefined {
    const seg = this.segments[0];
    if (seg) {
      const f = pieceFrame(seg.piece, seg.idx++);
      if (seg.idx >= seg.len) {
        this.segments.shift();
        seg.done();
      }
      return f;
    }
    return this.setup.idleMedia === 'silence' ? silenceFrame(this.fmt) : undefined;
  }

  private sendText(message: string): void {
    const ws = this.ws;
    if (ws && ws.readyState === WS_OPEN) ws.send(message);
  }

  private ids(): StreamIds {
    return { callId: this.callUuid, streamId: this.streamId ?? '', accountId: this.ctx.authId };
  }

  private sendPlayed(name: string): void {
    this.sendText(playedStreamMessage(++this.seq, this.streamId ?? '', name));
  }

  private onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    const at = performance.now();
    const m = decodeGatewayMessage(data, isBinary);
    if (m.kind !== 'event') {
      this.error(m.problem);
      this.record({
        event: m.kind === 'binary' ? '#binary' : '#invalid',
        at,
        msg: m.kind === 'binary' ? m.bytes : m.raw,
      });
      return;
    }
    for (const problem of m.problems) this.error(problem);
    const { event, msg } = m;
    if (event !== 'playAudio' || this.setup.recordPlayed) this.record({ event, at, msg });
    if (event === 'playAudio') this.onPlayAudio(msg, at);
    else if (event === 'checkpoint') this.onCheckpoint(msg, at);
    else if (event === 'clearAudio') this.onClearAudio(msg, at);
    if (event === 'playAudio' && !this.setup.recordPlayed) this.events.notify({ event, at, msg });
  }

  private onPlayAudio(msg: Record<string, unknown>, at: number): void {
    this.stats.playAudio++;
    const bytes = checkPlayAudio(msg, this.fmt, this.bidirectional);
    const problem = typeof bytes === 'string' ? bytes : this.playback.play(bytes, at);
    if (problem) this.error(problem);
  }

  private onCheckpoint(msg: Record<string, unknown>, at: number): void {
    if (!this.checkStreamId(msg, 'checkpoint')) return;
    if (typeof msg.name !== 'string' || msg.name.length === 0) {
      this.error('checkpoint without a name');
      return;
    }
    if (this.playback.checkpoint(msg.name, at)) this.sendPlayed(msg.name);
  }

  private onClearAudio(msg: Record<string, unknown>, at: number): void {
    if (!this.checkStreamId(msg, 'clearAudio')) return;
    this.playback.clear(at);
    this.sendText(clearedAudioMessage(++this.seq, this.streamId ?? ''));
  }

  private checkStreamId(msg: Record<string, unknown>, event: string): boolean {
    const p = streamIdProblem(msg, event, this.streamId);
    if (p === undefined) return true;
    this.error(p.problem);
    return p.act;
  }

  private record(e: ReceivedEvent): void {
    this.events.record(e);
  }

  error(text: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push(text);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // SimulatedCall API

  async sendAudio(src: AudioSource): Promise<void> {
    await this.ready;
    if (!this.streaming) throw new Error('the call has no open stream');
    const pieces = (await framesFor(src, this.fmt)).filter((p) => pieceLength(p) > 0);
    if (!this.streaming || pieces.length === 0) return;
    await new Promise<void>((done) => {
      pieces.forEach((piece, i) => {
        this.segments.push({ piece, idx: 0, len: pieceLength(piece), done: i === pieces.length - 1 ? done : noop });
      });
    });
  }

  sendDtmf(digits: string): void {
    if (!this.streaming || !this.ws) throw new Error('the call has no open stream');
    for (const d of digits) {
      if (!DTMF_DIGIT.test(d)) throw new Error(`invalid DTMF digit "${d}"`);
      this.sendText(dtmfMessage(++this.seq, this.streamId ?? '', d, this.extraHeaders));
    }
  }

  // Fault injection (src/emulators/plivo/faults.ts).

  sendRaw(data: string | Uint8Array, opts: { binary?: boolean } = {}): void {
    sendRaw(this.ws, data, opts);
  }

  pauseReading(): void {
    pauseReading(this.ws);
  }

  resumeReading(): void {
    resumeReading(this.ws);
  }

  waitForEvent(event: string, predicate?: (msg: unknown) => boolean, timeoutMs = 5000): Promise<ReceivedEvent> {
    const ended = this.ws !== undefined && !this.streaming && this.closingBy !== undefined;
    return this.events.waitFor(event, predicate, timeoutMs, ended);
  }

  playedPcm(): { samples: Int16Array; sampleRate: number } {
    const bytes = this.playback.bytes();
    const samples = this.fmt.encoding === 'audio/x-mulaw' ? ulawDecode(bytes) : decodeL16(bytes);
    return { samples, sampleRate: this.fmt.sampleRate };
  }

  playedUlaw(): Uint8Array {
    if (this.fmt.encoding === 'audio/x-mulaw') return this.playback.bytes();
    return ulawEncode(this.playedPcm8k());
  }

  playedPcm8k(): Int16Array {
    const { samples, sampleRate } = this.playedPcm();
    return resample(samples, sampleRate, 8000);
  }

  get played(): readonly PlayedChunk[] {
    return this.playback.played;
  }

  get format(): StreamFormat {
    return this.fmt;
  }
}

function noop(): void {}
