// The capacity load generator: ONE process that is both of the gateway's peers. As Plivo it answers calls through
// the signed /answer webhook and streams μ-law caller audio on the stream WebSocket; as Gemini Live it serves wss://
// (TLS, JSON in binary frames) and answers each caller talk-spurt with agent audio in 40 ms chunks of 24 kHz PCM16,
// sent in a burst ahead of real time and then at real time, as the service does. Built for load:
// - every message it sends is pre-encoded (agent chunks, control messages, caller payloads); a caller `media`
//   message is a per-call Buffer whose sequence number, timestamp and chunk fields are patched in place (JSON allows
//   the padding spaces), so a frame costs a few digit writes and one socket write;
// - one interval timer drives every call (caller frames, agent chunks, scheduled replies);
// - what it receives is read by position (the uplink chunk's base64 length; the playAudio event name), never parsed,
//   except the rare control messages.
// It imports nothing from the gateway (src/plivo, src/gemini, src/calls…): a shared bug would pass unnoticed.
import {
  App,
  SSLApp,
  type TemplatedApp,
  type WebSocket as UwsWebSocket,
  type us_listen_socket,
  us_listen_socket_close,
  us_socket_local_port,
} from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { signatureHeaders } from '../../src/emulators/plivo/signature.ts';
import { ulawEncode } from '../../src/emulators/plivo/ulaw.ts';
import { Samples } from '../stats.ts';

// ---- sockets ---------------------------------------------------------------------------------------------------------

/** What the conversation does with a socket of either leg. */
interface PeerSocket {
  readonly readyState: number;
  send(data: string | Uint8Array, opts?: { binary?: boolean }): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** The Plivo leg: a `ws` client, through require with the few types used (the project has no @types/ws). */
interface WsSocket extends PeerSocket {
  on(event: 'open', l: () => void): this;
  on(event: 'message', l: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', l: (code: number) => void): this;
  on(event: 'error', l: (err: Error) => void): this;
  on(event: 'unexpected-response', l: (req: { destroy(): void }, res: { statusCode?: number }) => void): this;
}
const require = createRequire(import.meta.url);
const ws = require('ws') as { WebSocket: new (url: string, opts: Record<string, unknown>) => WsSocket };
const OPEN = 1;
const CLOSED = 3;

/** uWS copies the user data's own properties at the upgrade, so the peer (with its methods) goes in a holder. */
interface PeerData {
  peer: GeminiPeer;
}

/**
 * The Gemini leg's server side is uWebSockets.js (TLS and WebSocket framing in C++): with `ws` on an https server
 * it cost the generator as much CPU per call as the gateway, most of it in stream and framing allocations, and at
 * 300 calls the generator was what ran out of time. The peer's socket is valid until its close handler has run.
 */
class GeminiPeer implements PeerSocket {
  socket: UwsWebSocket<PeerData> | undefined;
  call: Call | undefined;
  closed = false;

  get readyState(): number {
    return this.closed ? CLOSED : OPEN;
  }

  send(data: string | Uint8Array, opts?: { binary?: boolean }): void {
    if (!this.closed) this.socket?.send(data, opts?.binary ?? false);
  }

  close(code?: number, reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.end(code, reason);
  }

  terminate(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.close();
  }
}

// ---- pre-encoded audio and messages -------------------------------------------------------------------------------

const FRAME_MS = 20;
/** Gemini agent chunk: 40 ms of 24 kHz PCM16, the service's usual size. */
const CHUNK_MS = 40;
/** Chunks the agent side sends at once when a turn starts (the service bursts ahead of real time). */
const BURST_CHUNKS = 10;
/** Uplink PCM16 16 kHz samples per 20 ms Plivo frame. */
const UP_SAMPLES_PER_FRAME = 320;
/** Silence after a talk-spurt before the emulated Gemini VAD calls the caller's turn over. */
const VAD_SILENCE_FRAMES = 15;
/** Speech heard before the emulated Gemini calls it a barge-in. */
const BARGE_IN_FRAMES = 4;
const RING = 4096;
/** The gateway's pacer tick (src/plivo/pacer.ts default): part of the downlink delay the configuration asks for. */
const PACER_TICK_MS = 10;
const TURN_CHUNKS_MAX = 256;
/** The generator's own event-loop delay histogram resolution (ms); readings include it (gateway-proc.ts loopDelayMs). */
export const GENERATOR_LOOP_RESOLUTION_MS = 2;
/**
 * A run whose generator's loop delay p99 exceeds this measured the generator, not the gateway. 13 ms of delay is the
 * 15 ms this threshold was on the raw histogram, before its resolution was taken off.
 */
export const GENERATOR_LOOP_P99_MS = 13;

/** Speech-like test signal: a 140 Hz voice with harmonics under a 4 Hz syllable envelope. */
function voice(rate: number, samples: number, offset: number, f0: number): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = (offset + i) / rate;
    const env = 0.35 + 0.65 * Math.abs(Math.sin(Math.PI * 4 * t));
    let v = 0;
    for (let h = 1; h <= 6; h++) v += Math.sin(2 * Math.PI * f0 * h * t) / h;
    out[i] = Math.round(v * env * 6000);
  }
  return out;
}

/** One second of caller speech as 50 base64 μ-law frames, plus the silence frame. */
const CALLER_FRAMES: Buffer[] = Array.from({ length: 50 }, (_, i) =>
  Buffer.from(Buffer.from(ulawEncode(voice(8000, 160, i * 160, 130))).toString('base64')),
);
/**
 * What a caller's line carries between talk-spurts: not digital silence but a quiet room's background, here white
 * noise at about -60 dBFS (a fixed seed, so runs match). The gateway's quiet uplink (GEMINI_UPLINK_SILENCE_DBFS,
 * default -50) takes this for quiet; a noisier line would keep 40 ms chunks throughout.
 */
const SILENCE_FRAME = (() => {
  let seed = 7;
  const noise = new Int16Array(160);
  for (let i = 0; i < noise.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    noise[i] = Math.round(((seed / 0x7fffffff) * 2 - 1) * 57); // uniform ±57: RMS 33, -60 dBFS
  }
  return Buffer.from(Buffer.from(ulawEncode(noise)).toString('base64'));
})();

const json = (o: unknown) => Buffer.from(JSON.stringify(o));
/** One second of agent audio as 25 complete serverContent messages. */
const AGENT_CHUNKS: Buffer[] = Array.from({ length: 25 }, (_, i) => {
  const pcm = voice(24000, 960, i * 960, 190);
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).toString('base64');
  return json({
    serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data } }] } },
  });
});
const MSG = {
  setupComplete: json({ setupComplete: {} }),
  interrupted: json({ serverContent: { interrupted: true } }),
  generationComplete: json({ serverContent: { generationComplete: true } }),
  turnComplete: json({
    serverContent: { turnComplete: true },
    usageMetadata: { promptTokenCount: 420, responseTokenCount: 96, totalTokenCount: 516 },
  }),
  interruptedTurnComplete: json({ serverContent: { turnComplete: true } }),
  outputTranscript: json({ serverContent: { outputTranscription: { text: 'Your order ten oh one ' } } }),
  inputTranscript: json({ serverContent: { inputTranscription: { text: 'Where is my order?', finished: true } } }),
};
const DATA_KEY = Buffer.from('"data":"');
const AUDIO_KEY = Buffer.from('"audio"');

// ---- per-call state -------------------------------------------------------------------------------------------------

export interface ConversationOptions {
  /** Probability that the caller barges in on an agent turn. */
  interruptP: number;
  /** Probability that an agent turn starts with a check_order_status tool call. */
  toolP: number;
}

type Rand = () => number;

class Call {
  readonly idx: number;
  readonly uuid = randomUUID();
  readonly from: string;
  // Plivo leg
  plivo: WsSocket | undefined;
  /** The gateway this call was placed on (bench/capacity/ab.ts runs two). */
  gatewayBase = '';
  streamId = randomUUID();
  media: Buffer = Buffer.alloc(0);
  seqAt = 0;
  tsAt = 0;
  chunkAt = 0;
  payloadAt = 0;
  seq = 1;
  framesSent = 0;
  nextFrameAt = 0;
  streaming = false;
  sentAt = new Float64Array(RING);
  // caller talk-spurts
  callerStartAt = 0;
  speaking = false;
  speechPos = 0;
  spurtStartFrame = 0;
  spurtEndFrame = 0;
  /** Gemini side waits for the caller's turn to end (VAD) once this many uplink samples have arrived. */
  vadEndSamples = -1;
  bargeInSamples = -1;
  // Gemini leg
  gemini: PeerSocket | undefined;
  setupAt = 0;
  samplesRecv = 0;
  /** Uplink audio messages received in measured windows. */
  upMessages = 0;
  /** Uplink frames below this index were held by the gateway (before setup, during a tool call): no latency. */
  holdBefore = 0;
  toolId = 0;
  toolPendingSince = 0;
  turnNo = 0;
  turnChunks = 0;
  turnSent = 0;
  turnAudioAt = 0;
  turnActive = false;
  turnInterrupt = false;
  chunkSentAt = new Float64Array(TURN_CHUNKS_MAX);
  pendingTurnAfterTool = false;
  endMsgs: Buffer[] = [];
  // Plivo side of the agent turn
  dlOpen = false;
  dlRecv = 0;
  dlFirstAt = 0;
  playEnd = 0;
  maxGap = 0;
  interruptedAt = 0;
  tallied = true;
  awaitingHeard = false;
  turnMeasured = false;
  checkpoints: { at: number; name: string }[] = [];

  constructor(idx: number) {
    this.idx = idx;
    this.from = `1415${String(5_000_000 + idx).padStart(7, '0')}`;
    this.endMsgs = [
      MSG.generationComplete,
      MSG.turnComplete,
      json({ sessionResumptionUpdate: { newHandle: `h-${idx}`, resumable: true } }),
    ];
  }

  buildMedia(): void {
    const head = `{"event":"media","sequenceNumber":`;
    const pad10 = ' '.repeat(10);
    let s = head;
    this.seqAt = s.length;
    s += `${pad10},"streamId":"${this.streamId}","media":{"track":"inbound","timestamp":"`;
    this.tsAt = s.length;
    s += `${'0'.repeat(13)}","chunk":`;
    this.chunkAt = s.length;
    s += `${pad10},"payload":"`;
    this.payloadAt = s.length;
    s += `${'A'.repeat(SILENCE_FRAME.length)}"},"extra_headers":"{}"}`;
    this.media = Buffer.from(s);
  }
}

/** Writes n right-aligned in `width` bytes at `pos`, padded with spaces (or zeros). */
function writeNum(buf: Buffer, pos: number, width: number, n: number, pad = 0x20): void {
  let i = pos + width - 1;
  do {
    buf[i--] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0 && i >= pos);
  while (i >= pos) buf[i--] = pad;
}

// ---- measurements ---------------------------------------------------------------------------------------------------

export interface StepMeasures {
  upLatencyMs: Samples;
  dlFirstMs: Samples;
  dlLateMs: Samples;
  gapMs: Samples;
  /** Longest audible silence per agent turn (ms), for the p90 gate. */
  gaps: number[];
  clearMs: Samples;
  toolMs: Samples;
  upExpected: number;
  upDelivered: number;
  /** Gemini uplink audio messages received (one TLS record and socket write each on the gateway). */
  upMessages: number;
  dlExpected: number;
  dlDelivered: number;
  turns: number;
  interruptions: number;
  toolCalls: number;
  openingTurns: number;
  framesDue: number;
  framesLate: number;
  geminiSessions: number;
  geminiResumes: number;
  unknownSessions: number;
  errors: string[];
}

function newMeasures(calls: number, seconds: number): StepMeasures {
  const cap = Math.max(1000, calls * seconds * 30);
  return {
    upLatencyMs: new Samples(cap),
    dlFirstMs: new Samples(calls * seconds),
    dlLateMs: new Samples(cap * 2),
    gapMs: new Samples(calls * seconds),
    gaps: [],
    clearMs: new Samples(calls * seconds),
    toolMs: new Samples(calls * seconds),
    upExpected: 0,
    upDelivered: 0,
    upMessages: 0,
    dlExpected: 0,
    dlDelivered: 0,
    turns: 0,
    interruptions: 0,
    toolCalls: 0,
    openingTurns: 0,
    framesDue: 0,
    framesLate: 0,
    geminiSessions: 0,
    geminiResumes: 0,
    unknownSessions: 0,
    errors: [],
  };
}

// ---- the generator ------------------------------------------------------------------------------------------------

export interface GeneratorOptions {
  /**
   * PEM key and certificate the Gemini side serves wss:// with; undefined serves plain ws:// (only to measure what
   * TLS costs: the real service is TLS-only).
   */
  tls: { key: string; cert: string } | undefined;
  authId: string;
  authToken: string;
  conversation: ConversationOptions;
  seed?: number;
  /** The gateway's GEMINI_UPLINK_CHUNK_MS (default 40): a partial chunk at the end stays in its buffer. */
  uplinkChunkMs?: number;
  /** The gateway's GEMINI_UPLINK_SILENCE_CHUNK_MS (default 200): the largest partial chunk that can stay. */
  uplinkSilenceChunkMs?: number;
}

export class Generator {
  geminiPort = 0;
  restPort = 0;
  measuring = false;
  m: StepMeasures = newMeasures(1, 1);
  private readonly opts: GeneratorOptions;
  private readonly gemini: TemplatedApp;
  private geminiListen: us_listen_socket | undefined;
  private readonly certDir: string | undefined;
  private readonly rest: HttpServer;
  private calls: Call[] = [];
  private readonly byHandle = new Map<string, Call>();
  /** The call placed last whose Gemini session has not arrived yet (calls are placed one at a time). */
  private awaitingSession: { call: Call; resolve: () => void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private quiet = false;
  private rand: Rand;
  readonly loop = monitorEventLoopDelay({ resolution: GENERATOR_LOOP_RESOLUTION_MS });

  constructor(opts: GeneratorOptions) {
    this.opts = opts;
    let s = opts.seed ?? 42;
    // Deterministic conversation from a seed (mulberry32): two runs differ by the gateway, not the script.
    this.rand = () => {
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    if (opts.tls === undefined) this.gemini = App();
    else {
      // uWS reads the key and certificate from files.
      this.certDir = mkdtempSync(join(os.tmpdir(), 'capacity-gen-'));
      writeFileSync(join(this.certDir, 'key.pem'), opts.tls.key, { mode: 0o600 });
      writeFileSync(join(this.certDir, 'cert.pem'), opts.tls.cert);
      this.gemini = SSLApp({
        key_file_name: join(this.certDir, 'key.pem'),
        cert_file_name: join(this.certDir, 'cert.pem'),
      });
    }
    this.gemini.ws<PeerData>('/*', {
      compression: 0,
      maxPayloadLength: 1 << 20,
      idleTimeout: 0,
      // Never drop what the conversation sends (a turn's burst, control messages), as `ws` never did.
      maxBackpressure: 64 * 1024 * 1024,
      upgrade: (res, req, context) => {
        const peer = new GeminiPeer();
        if (!req.getUrl().includes('BidiGenerateContent')) peer.closed = true;
        res.upgrade<PeerData>(
          { peer },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (socket) => {
        const peer = socket.getUserData().peer;
        peer.socket = socket;
        if (peer.closed) socket.end(1008, 'unknown endpoint');
      },
      // A view of uWS's buffer, valid during this call only: everything reads it synchronously.
      message: (socket, data) => this.onGeminiFrame(socket.getUserData().peer, Buffer.from(data)),
      close: (socket) => {
        const peer = socket.getUserData().peer;
        peer.closed = true;
        peer.socket = undefined;
      },
    });
    // Plivo REST stand-in: the gateway only calls it for tools this conversation never uses.
    this.rest = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  }

  async start(): Promise<void> {
    this.geminiListen = await new Promise<us_listen_socket>((resolve, reject) =>
      this.gemini.listen('127.0.0.1', 0, (token) =>
        token ? resolve(token) : reject(new Error('generator: the Gemini side cannot listen')),
      ),
    );
    await new Promise<void>((r) => this.rest.listen(0, '127.0.0.1', r));
    this.geminiPort = us_socket_local_port(this.geminiListen as unknown as Parameters<typeof us_socket_local_port>[0]);
    this.restPort = (this.rest.address() as AddressInfo).port;
    this.timer = setInterval(() => this.tick(), 5);
    this.loop.enable();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.loop.disable();
    for (const c of this.calls) {
      c.plivo?.terminate();
      c.gemini?.terminate();
    }
    if (this.geminiListen !== undefined) us_listen_socket_close(this.geminiListen);
    this.geminiListen = undefined;
    this.gemini.close();
    if (this.certDir !== undefined) rmSync(this.certDir, { recursive: true, force: true });
    this.rest.closeAllConnections();
    await new Promise<void>((r) => this.rest.close(() => r()));
  }

  /** Starts a new step's bookkeeping (all calls of the previous step must be hung up). */
  reset(calls: number, seconds: number): void {
    this.calls = [];
    this.byHandle.clear();
    this.quiet = false;
    this.m = newMeasures(calls, seconds);
  }

  get activeCalls(): number {
    return this.calls.length;
  }

  // ---- Plivo side: placing a call -------------------------------------------------------------------------------

  /**
   * Answer webhook → stream → the Gemini session of this call. Calls are placed one at a time so the next Gemini
   * connection belongs to this call (the setup message carries nothing per call). Resolves false on failure.
   */
  async placeCall(gatewayBase: string, timeoutMs = 10_000): Promise<boolean> {
    const call = new Call(this.calls.length);
    call.gatewayBase = gatewayBase;
    this.calls.push(call);
    const sessionArrived = new Promise<void>((resolve) => {
      this.awaitingSession = { call, resolve };
    });
    const url = `${gatewayBase}/answer`;
    const params: Record<string, string> = {
      CallUUID: call.uuid,
      RequestUUID: call.uuid,
      From: call.from,
      To: '14155550100',
      Direction: 'inbound',
      CallStatus: 'ringing',
      CallerName: call.from,
      Event: 'StartApp',
    };
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...signatureHeaders('valid', this.opts.authToken, 'POST', url, params),
        },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const xml = await res.text();
      const m = /<Stream[^>]*>([^<]+)<\/Stream>/.exec(xml);
      if (res.status !== 200 || m === null) throw new Error(`answer: HTTP ${res.status} ${xml.slice(0, 80)}`);
      const streamUrl = m[1]!.replace(/&amp;/g, '&');
      const opened = this.openStream(call, streamUrl, timeoutMs);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no Gemini session within the timeout')), timeoutMs);
      });
      try {
        await Promise.race([Promise.all([opened, sessionArrived]), timeout]);
      } finally {
        clearTimeout(timer);
      }
      return true;
    } catch (err) {
      if (this.m.errors.length < 20) this.m.errors.push(`call ${call.idx}: ${(err as Error).message}`);
      this.awaitingSession = undefined;
      call.plivo?.terminate();
      return false;
    }
  }

  private openStream(call: Call, url: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = new ws.WebSocket(url, {
        headers: signatureHeaders('valid', this.opts.authToken, 'GET', url.replace(/^ws/, 'http')),
        perMessageDeflate: false,
        skipUTF8Validation: true,
        handshakeTimeout: timeoutMs,
      });
      sock.on('unexpected-response', (req, res) => {
        req.destroy();
        reject(new Error(`stream upgrade: HTTP ${res.statusCode}`));
      });
      sock.on('error', (err) => reject(err));
      sock.on('open', () => {
        call.plivo = sock;
        call.buildMedia();
        sock.send(
          JSON.stringify({
            event: 'start',
            sequenceNumber: call.seq++,
            start: {
              callId: call.uuid,
              streamId: call.streamId,
              accountId: this.opts.authId,
              tracks: ['inbound'],
              mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
            },
            extra_headers: '{}',
          }),
        );
        const now = performance.now();
        call.nextFrameAt = now + FRAME_MS;
        call.streaming = true;
        // Until the gateway sends an opening turn, the caller speaks first (after a ring-in pause); an opening turn
        // that came before the stream (warm session) has already started the greeting.
        if (call.turnNo === 0) call.callerStartAt = now + 800 + this.rand() * 1200;
        sock.on('message', (data) => this.onPlivoMessage(call, data));
        resolve();
      });
    });
  }

  /** Calls placed on `gatewayBase`, and the uplink messages they received in measured windows. */
  callsOn(gatewayBase: string): { calls: number; upMessages: number } {
    let calls = 0;
    let upMessages = 0;
    for (const c of this.calls) {
      if (c.gatewayBase !== gatewayBase || c.gemini === undefined) continue;
      calls++;
      upMessages += c.upMessages;
    }
    return { calls, upMessages };
  }

  /** Ends every call: stop event, socket close, signed hangup webhook to its gateway (a few at a time). */
  async hangupAll(): Promise<void> {
    const list = this.calls.slice();
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const call = list[next++]!;
        const url = `${call.gatewayBase}/hangup`;
        call.streaming = false;
        const sock = call.plivo;
        if (sock !== undefined && sock.readyState === OPEN) {
          sock.send(
            JSON.stringify({
              event: 'stop',
              sequenceNumber: call.seq++,
              streamId: call.streamId,
              stop: { callId: call.uuid, streamId: call.streamId, reason: 'call ended' },
            }),
          );
          sock.close(1000, 'call ended');
        }
        const params: Record<string, string> = {
          CallUUID: call.uuid,
          From: call.from,
          To: '14155550100',
          Direction: 'inbound',
          CallStatus: 'completed',
          Event: 'Hangup',
          HangupCause: 'NORMAL_CLEARING',
          HangupCauseName: 'Normal Hangup',
          HangupSource: 'Caller',
        };
        await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            ...signatureHeaders('valid', this.opts.authToken, 'POST', url, params),
          },
          body: new URLSearchParams(params).toString(),
          signal: AbortSignal.timeout(10_000),
        })
          .then((r) => r.text())
          .catch(() => {});
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  }

  /**
   * Stops caller media (for the delivery count: what was sent must have arrived once the last chunk is flushed) and
   * returns when in-flight audio had time to land.
   */
  async quiesce(ms: number): Promise<void> {
    this.quiet = true;
    await new Promise((r) => setTimeout(r, ms));
    for (const c of this.calls) {
      if (c.gemini === undefined) continue;
      // The gateway sends whole chunks: a partial one (up to a chunk less one frame) stays in its buffer, and the
      // caller is quiet here, so the chunk is the quiet one.
      const chunkMs = Math.max(this.opts.uplinkChunkMs ?? 40, this.opts.uplinkSilenceChunkMs ?? 200);
      const perChunk = Math.max(1, Math.round(chunkMs / 20));
      const expected = Math.max(0, c.framesSent - (perChunk - 1));
      this.m.upExpected += expected;
      this.m.upDelivered += Math.min(expected, Math.floor(c.samplesRecv / UP_SAMPLES_PER_FRAME));
    }
  }

  // ---- Plivo side: what the gateway sends ------------------------------------------------------------------------

  private onPlivoMessage(call: Call, data: Buffer): void {
    const now = performance.now();
    // `{"event":"playAudio"…` — the gateway writes compact JSON with the event first; anything else is rare.
    if (data[10] === 0x70 /* p */ && data[11] === 0x6c /* l */) {
      if (!call.dlOpen) return;
      const k = call.dlRecv++;
      if (k === 0) {
        call.dlFirstAt = now;
        call.playEnd = now + FRAME_MS;
        if (call.turnMeasured) this.m.dlFirstMs.record(now - call.chunkSentAt[0]!);
        // A barge-in is planned from the moment the caller hears the agent.
        if (call.turnInterrupt) call.callerStartAt = now + 500 + this.rand() * 1000;
        return;
      }
      const gap = now - call.playEnd;
      if (gap > call.maxGap) call.maxGap = gap;
      call.playEnd = (gap > 0 ? now : call.playEnd) + FRAME_MS;
      if (call.turnMeasured) {
        // Due when its source chunk has arrived and its slot has come (60 ms of lead: three frames at once, then one
        // per 20 ms), whichever is later, plus one pacer tick: the gateway releases it at the first tick after that.
        // The default 80/40 playout (four frames at once, then two every 40 ms) releases the first frame of each
        // pair at this same slot and the second 20 ms before its own, so the model holds there too.
        const src = call.chunkSentAt[Math.min(TURN_CHUNKS_MAX - 1, k >> 1)]!;
        const slot = call.dlFirstAt + (k - 3) * FRAME_MS;
        this.m.dlLateMs.record(now - Math.max(src, slot) - PACER_TICK_MS);
      }
      if (!call.turnActive && !call.turnInterrupt && call.dlRecv >= call.turnChunks * 2) this.agentTurnHeard(call);
      return;
    }
    let msg: { event?: string; name?: string };
    try {
      msg = JSON.parse(data.toString());
    } catch {
      this.error(`call ${call.idx}: non-JSON message from the gateway`);
      return;
    }
    const sock = call.plivo;
    if (msg.event === 'clearAudio') {
      if (call.interruptedAt > 0 && this.measuring) this.m.clearMs.record(now - call.interruptedAt);
      call.interruptedAt = 0;
      call.dlOpen = false;
      call.playEnd = now;
      call.checkpoints.length = 0;
      sock?.send(JSON.stringify({ event: 'clearedAudio', sequenceNumber: call.seq++, streamId: call.streamId }));
    } else if (msg.event === 'checkpoint' && typeof msg.name === 'string') {
      // Played once the audio queued before it has played.
      call.checkpoints.push({ at: Math.max(now, call.playEnd), name: msg.name });
    } else if (msg.event !== 'sendDTMF') {
      this.error(`call ${call.idx}: unexpected event ${String(msg.event).slice(0, 30)}`);
    }
  }

  /** The whole agent turn has played at Plivo: the caller answers after a pause. */
  private agentTurnHeard(call: Call): void {
    if (!call.awaitingHeard || call.callerStartAt > 0 || call.speaking) return;
    call.awaitingHeard = false;
    call.callerStartAt = call.playEnd + 300 + this.rand() * 600;
  }

  /** Books the finished agent turn's figures (frames, longest silence) when the caller speaks next. */
  private tally(call: Call): void {
    if (call.tallied) return;
    call.tallied = true;
    if (!call.turnMeasured || !this.measuring) return;
    this.m.turns++;
    const gap = Math.max(0, call.maxGap);
    this.m.gapMs.record(gap);
    this.m.gaps.push(gap);
    if (!call.turnInterrupt) {
      this.m.dlExpected += call.turnChunks * 2;
      this.m.dlDelivered += Math.min(call.dlRecv, call.turnChunks * 2);
    }
  }

  // ---- Gemini side ------------------------------------------------------------------------------------------------

  private onGeminiFrame(sock: GeminiPeer, data: Buffer): void {
    if (sock.closed) return;
    let call = sock.call;
    if (call !== undefined) {
      this.onGeminiMessage(call, sock, data);
      return;
    }
    // First message: setup. A resumed session names the handle it continues; a fresh one is the call placed last.
    let setup: { setup?: { sessionResumption?: { handle?: string } } };
    try {
      setup = JSON.parse(data.toString());
    } catch {
      sock.close(1007, 'Request contains an invalid argument.');
      return;
    }
    if (setup.setup === undefined) {
      sock.close(1007, 'Request contains an invalid argument.');
      return;
    }
    const handle = setup.setup.sessionResumption?.handle;
    if (handle !== undefined) {
      call = this.byHandle.get(handle);
      this.m.geminiResumes++;
    } else if (this.awaitingSession !== undefined) {
      call = this.awaitingSession.call;
      this.awaitingSession.resolve();
      this.awaitingSession = undefined;
    }
    if (call === undefined) {
      this.m.unknownSessions++;
      sock.close(1008, 'session not expected by the generator');
      return;
    }
    sock.call = call;
    this.m.geminiSessions++;
    call.gemini = sock;
    this.byHandle.set(`h-${call.idx}`, call);
    call.setupAt = performance.now();
    call.holdBefore = call.framesSent + 1;
    sock.send(MSG.setupComplete, { binary: true });
  }

  private onGeminiMessage(call: Call, sock: PeerSocket, data: Buffer): void {
    const now = performance.now();
    // `{"realtimeInput":{"audio":{"data":"…","mimeType":…}}}`: count the samples from the base64 length.
    const a = data.indexOf(AUDIO_KEY);
    if (a > 0 && a < 32) {
      const d = data.indexOf(DATA_KEY, a);
      if (d < 0) return;
      const start = d + DATA_KEY.length;
      const end = data.indexOf(0x22, start);
      let bytes = ((end - start) >> 2) * 3;
      if (data[end - 1] === 0x3d) bytes--;
      if (data[end - 2] === 0x3d) bytes--;
      call.samplesRecv += bytes >> 1;
      if (this.measuring) {
        this.m.upMessages++;
        call.upMessages++;
      }
      const lastFrame = Math.floor(call.samplesRecv / UP_SAMPLES_PER_FRAME) - 1;
      if (
        this.measuring &&
        lastFrame >= call.holdBefore &&
        lastFrame < call.framesSent &&
        call.toolPendingSince === 0
      ) {
        this.m.upLatencyMs.record(now - call.sentAt[lastFrame & (RING - 1)]!);
      }
      if (call.bargeInSamples >= 0 && call.samplesRecv >= call.bargeInSamples) {
        call.bargeInSamples = -1;
        // Only a generation in progress is interrupted; a finished one has nothing left to cut.
        if (call.turnActive) this.interrupt(call, sock, now);
      }
      if (call.vadEndSamples >= 0 && call.samplesRecv >= call.vadEndSamples) {
        call.vadEndSamples = -1;
        sock.send(MSG.inputTranscript, { binary: true });
        this.agentTurn(call, sock, now);
      }
      return;
    }
    let msg: {
      clientContent?: { turnComplete?: boolean };
      realtimeInput?: { text?: string };
      toolResponse?: { functionResponses?: { id?: string }[] };
    };
    try {
      msg = JSON.parse(data.toString());
    } catch {
      sock.close(1007, 'Request contains an invalid argument.');
      return;
    }
    if (msg.toolResponse !== undefined) {
      const id = msg.toolResponse.functionResponses?.[0]?.id;
      if (id !== `fc-${call.idx}-${call.toolId}` || call.toolPendingSince === 0) {
        // The real service closes the connection on an unknown id.
        sock.close(1007, 'Request contains an invalid argument.');
        return;
      }
      if (this.measuring) this.m.toolMs.record(now - call.toolPendingSince);
      call.toolPendingSince = 0;
      // Audio the gateway held during the tool call arrives now, late by design: no latency for it.
      call.holdBefore = call.framesSent;
      if (call.pendingTurnAfterTool) {
        call.pendingTurnAfterTool = false;
        this.startAudio(call, now);
      }
    } else if (msg.clientContent?.turnComplete === true || typeof msg.realtimeInput?.text === 'string') {
      // The gateway's opening turn: the agent greets the caller, who waits to hear it.
      if (call.turnNo === 0 && !call.speaking) {
        call.callerStartAt = 0;
        if (this.measuring) this.m.openingTurns++;
        this.agentTurn(call, sock, now);
      }
    }
  }

  private agentTurn(call: Call, sock: PeerSocket, now: number): void {
    // Book the previous turn before its figures (chunks, interrupt flag) are replaced by this one's.
    this.tally(call);
    call.turnNo++;
    call.turnChunks = 40 + Math.floor(this.rand() * 80); // 1.6–4.8 s
    call.turnInterrupt = call.turnNo > 1 && this.rand() < this.opts.conversation.interruptP;
    if (call.turnNo > 1 && this.rand() < this.opts.conversation.toolP) {
      call.toolId++;
      call.toolPendingSince = now;
      call.pendingTurnAfterTool = true;
      if (this.measuring) this.m.toolCalls++;
      sock.send(
        `{"toolCall":{"functionCalls":[{"id":"fc-${call.idx}-${call.toolId}","name":"check_order_status","args":{"order_id":"ORD-1001"}}]}}`,
        { binary: true },
      );
      return;
    }
    this.startAudio(call, now);
  }

  private startAudio(call: Call, now: number): void {
    call.turnActive = true;
    call.turnSent = 0;
    call.turnAudioAt = now;
    call.turnMeasured = this.measuring;
    call.tallied = false;
    call.awaitingHeard = !call.turnInterrupt;
    call.dlOpen = true;
    call.dlRecv = 0;
    call.maxGap = 0;
    call.interruptedAt = 0;
    this.sendChunks(call, now);
  }

  private interrupt(call: Call, sock: PeerSocket, now: number): void {
    call.turnActive = false;
    call.interruptedAt = now;
    if (this.measuring) this.m.interruptions++;
    sock.send(MSG.interrupted, { binary: true });
    sock.send(MSG.interruptedTurnComplete, { binary: true });
  }

  private sendChunks(call: Call, now: number): void {
    const sock = call.gemini;
    if (sock === undefined || sock.readyState !== OPEN) {
      call.turnActive = false;
      return;
    }
    while (call.turnSent < call.turnChunks) {
      const k = call.turnSent;
      const due = call.turnAudioAt + (k < BURST_CHUNKS ? 0 : (k - BURST_CHUNKS + 1) * CHUNK_MS);
      if (due > now) return;
      call.chunkSentAt[Math.min(k, TURN_CHUNKS_MAX - 1)] = now;
      sock.send(AGENT_CHUNKS[k % AGENT_CHUNKS.length]!, { binary: true });
      if (k % 12 === 11) sock.send(MSG.outputTranscript, { binary: true });
      call.turnSent++;
    }
    call.turnActive = false;
    for (const m of call.endMsgs) sock.send(m, { binary: true });
  }

  // ---- the one timer ----------------------------------------------------------------------------------------------

  private tick(): void {
    const now = performance.now();
    const epochMs = Math.floor(performance.timeOrigin + now);
    for (let i = 0; i < this.calls.length; i++) {
      const c = this.calls[i]!;
      if (!c.streaming) continue;
      if (c.turnActive) this.sendChunks(c, now);
      if (c.checkpoints.length > 0 && c.checkpoints[0]!.at <= now) {
        const cp = c.checkpoints.shift()!;
        c.plivo?.send(
          `{"event":"playedStream","sequenceNumber":${c.seq++},"streamId":"${c.streamId}","name":"${cp.name}"}`,
        );
      }
      if (c.callerStartAt > 0 && now >= c.callerStartAt && !c.speaking) this.startSpurt(c, now);
      // A turn whose frames never all arrived still ends for the caller (the loss is counted in delivery).
      if (!c.turnActive && c.awaitingHeard && c.callerStartAt === 0 && !c.speaking) {
        if (now > c.turnAudioAt + c.turnChunks * CHUNK_MS + 3000) this.agentTurnHeard(c);
      }
      if (this.quiet) continue;
      const sock = c.plivo;
      if (sock === undefined || sock.readyState !== OPEN) continue;
      while (c.nextFrameAt <= now) {
        const due = c.nextFrameAt;
        c.nextFrameAt += FRAME_MS;
        if (this.measuring) {
          this.m.framesDue++;
          if (now - due > FRAME_MS) this.m.framesLate++;
        }
        this.sendFrame(c, now, epochMs);
      }
    }
  }

  private startSpurt(c: Call, now: number): void {
    c.callerStartAt = 0;
    c.speaking = true;
    c.spurtStartFrame = c.framesSent;
    const frames = 40 + Math.floor(this.rand() * 60); // 0.8–2 s
    c.spurtEndFrame = c.framesSent + frames;
    c.vadEndSamples = (c.spurtEndFrame + VAD_SILENCE_FRAMES) * UP_SAMPLES_PER_FRAME;
    if (c.dlOpen && c.turnInterrupt) c.bargeInSamples = (c.spurtStartFrame + BARGE_IN_FRAMES) * UP_SAMPLES_PER_FRAME;
    else this.tally(c);
    void now;
  }

  private sendFrame(c: Call, now: number, epochMs: number): void {
    const n = c.framesSent;
    let payload: Buffer = SILENCE_FRAME;
    if (c.speaking) {
      payload = CALLER_FRAMES[c.speechPos++ % CALLER_FRAMES.length]!;
      if (n + 1 >= c.spurtEndFrame) c.speaking = false;
    }
    const buf = c.media;
    writeNum(buf, c.seqAt, 10, c.seq++);
    writeNum(buf, c.tsAt, 13, epochMs, 0x30);
    writeNum(buf, c.chunkAt, 10, n + 1);
    payload.copy(buf, c.payloadAt);
    c.sentAt[n & (RING - 1)] = now;
    c.framesSent = n + 1;
    c.plivo!.send(buf, { binary: false });
  }

  private error(s: string): void {
    if (this.m.errors.length < 20) this.m.errors.push(s);
  }
}
