// The wire floor: a stand-in gateway that moves the same messages as src/main.ts and does nothing else, to measure
// what the I/O alone costs in Node on this machine (`npm run bench:capacity -- --gateway floor`,
// `node bench/capacity/ab.ts --b-gateway floor …`). What the real gateway spends above this floor is its own work;
// the floor itself is what no JavaScript optimisation can remove.
//
// Same as the gateway: uWebSockets.js terminates the Plivo stream; one `ws` client per call speaks to Gemini Live
// over TLS with one shared TLS context (as src/gemini/transport.ts); caller audio goes up in 40 ms chunks, 200 ms
// once the caller has been quiet for 1 s, with the first loud frame flushing what waits (the quiet uplink); agent
// audio goes down as one-frame playAudio messages topped up to 80 ms ahead in 40 ms corked batches by one 10 ms
// timer (PLIVO_PLAYOUT_LEAD_MS/BATCH_MS defaults); an interruption clears Plivo's buffer; tool calls are answered.
//
// Left out, on purpose, and so below any real gateway: no JSON parse of caller frames (a byte test finds media), no
// base64 decode, no resampling or μ-law conversion (uplink and downlink messages are pre-built, of the right
// sizes), quiet told from speech by three μ-law samples instead of a frame's energy, no webhooks' signature checks,
// Redis, call records, transcripts, metrics or logs. It is a bench tool, not a gateway: it trusts its peer.
import { App, type WebSocket as UwsSocket } from 'uWebSockets.js';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createSecureContext } from 'node:tls';

interface WsClient {
  readonly readyState: number;
  send(data: Buffer | string, opts?: { binary?: boolean }): void;
  close(code?: number): void;
  on(event: 'open', l: () => void): this;
  on(event: 'message', l: (data: Buffer) => void): this;
  on(event: 'close' | 'error', l: () => void): this;
}
const require = createRequire(import.meta.url);
const WebSocketClient = require('ws') as new (url: string, opts: Record<string, unknown>) => WsClient;

const port = Number(process.env.SERVER_PORT);
const publicWs = (process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}`).replace(/^http/, 'ws');
const geminiBase = (process.env.GOOGLE_GEMINI_BASE_URL ?? '').replace(/^http/, 'ws');
const geminiUrl = `${geminiBase}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=floor`;
const tlsContext = geminiBase.startsWith('wss:') ? createSecureContext() : undefined;

const FRAME_MS = 20;
const CHUNK_FRAMES = 2;
const QUIET_CHUNK_FRAMES = 10;
const HANGOVER_FRAMES = 50;
const LEAD_MS = 80;
const TOP_UP_BELOW_MS = LEAD_MS - 40 + FRAME_MS;
const MAX_PENDING_FRAMES = 64;

const te = new TextEncoder();
/** Uplink messages of 1…64 frames (320 PCM16 samples at 16 kHz each), the gateway's wire format. */
const UPLINK: Buffer[] = Array.from({ length: MAX_PENDING_FRAMES + 1 }, (_, n) =>
  Buffer.from(
    `{"realtimeInput":{"audio":{"data":"${Buffer.alloc(n * 640, 0x11).toString('base64')}","mimeType":"audio/pcm;rate=16000"}}}`,
  ),
);
const PLAY = te.encode(
  `{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"${Buffer.alloc(160, 0xff).toString('base64')}"}}`,
);
const CLEAR = te.encode('{"event":"clearAudio","streamId":"floor"}');
const SETUP = JSON.stringify({
  setup: {
    model: 'models/gemini-2.5-flash-native-audio-preview-09-2025',
    generationConfig: { responseModalities: ['AUDIO'] },
    systemInstruction: { parts: [{ text: 'You are the wire floor.' }] },
    sessionResumption: {},
  },
});
const OPENING = JSON.stringify({
  clientContent: { turns: [{ role: 'user', parts: [{ text: 'Greet the caller.' }] }], turnComplete: true },
});
const INLINE = Buffer.from('"inlineData"');
const PAYLOAD = Buffer.from('"payload":"');
const MEDIA = Buffer.from('"media"');

const B64 = new Uint8Array(128);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) {
  B64[c.charCodeAt(0)] = i;
}

class FloorCall {
  ws: UwsSocket<{ call: FloorCall }> | undefined;
  gemini: WsClient | undefined;
  ready = false;
  closed = false;
  payloadAt = -1;
  pending = 0;
  quietRun = 0;
  queued = 0;
  aheadUntil = 0;

  onPlivo(msg: ArrayBuffer): void {
    const b = Buffer.from(msg);
    // `{"event":"media"…`: the generator's (and Plivo's) media frames; anything else is a rare control event.
    if (b.length < 100 || b.indexOf(MEDIA) !== 9) {
      const text = b.toString();
      if (text.includes('"start"')) this.openGemini();
      return;
    }
    if (this.payloadAt < 0) this.payloadAt = b.indexOf(PAYLOAD) + PAYLOAD.length;
    // Three μ-law samples from the first four base64 characters: quiet when all three are in μ-law's smallest
    // segment (bits 4–6 set: within about ±120 of 32,768), where the generator's -60 dBFS background sits and its
    // speech never does.
    const p = this.payloadAt;
    const v = (B64[b[p]!]! << 18) | (B64[b[p + 1]!]! << 12) | (B64[b[p + 2]!]! << 6) | B64[b[p + 3]!]!;
    const loud = ((v >> 16) & (v >> 8) & v & 0x70) !== 0x70;
    const wasQuiet = this.quietRun >= HANGOVER_FRAMES;
    this.quietRun = loud ? 0 : this.quietRun + 1;
    if (this.pending < MAX_PENDING_FRAMES) this.pending++;
    if (!this.ready) return;
    const chunk = this.quietRun >= HANGOVER_FRAMES ? QUIET_CHUNK_FRAMES : CHUNK_FRAMES;
    if (this.pending >= chunk || (loud && wasQuiet)) this.flush();
  }

  flush(): void {
    const g = this.gemini;
    if (g === undefined || g.readyState !== 1 || this.pending === 0) return;
    g.send(UPLINK[this.pending]!, { binary: false });
    this.pending = 0;
  }

  openGemini(): void {
    const g = new WebSocketClient(geminiUrl, {
      perMessageDeflate: false,
      ...(tlsContext !== undefined ? { secureContext: tlsContext } : {}),
    });
    this.gemini = g;
    g.on('open', () => g.send(SETUP));
    g.on('message', (data) => this.onGemini(data));
    g.on('error', () => {});
    g.on('close', () => {
      this.gemini = undefined;
      this.ready = false;
    });
  }

  onGemini(data: Buffer): void {
    const at = data.indexOf(INLINE);
    if (at > 0 && at < 64) {
      // One 40 ms chunk of 24 kHz agent audio is two 20 ms Plivo frames.
      this.queued += 2;
      active.add(this);
      return;
    }
    const msg = JSON.parse(data.toString()) as {
      setupComplete?: unknown;
      serverContent?: { interrupted?: boolean };
      toolCall?: { functionCalls?: { id?: string; name?: string }[] };
    };
    if (msg.setupComplete !== undefined) {
      this.ready = true;
      this.gemini?.send(OPENING);
      if (this.pending > 0) this.flush();
    } else if (msg.serverContent?.interrupted === true) {
      this.queued = 0;
      this.aheadUntil = 0;
      if (!this.closed) this.ws?.send(CLEAR, false);
    } else if (msg.toolCall !== undefined) {
      const calls = msg.toolCall.functionCalls ?? [];
      this.gemini?.send(
        JSON.stringify({
          toolResponse: {
            functionResponses: calls.map((c) => ({ id: c.id, name: c.name, response: { status: 'shipped' } })),
          },
        }),
      );
    }
  }

  /** The pacer's top-up: up to LEAD_MS ahead, once less than TOP_UP_BELOW_MS is. False when nothing is queued. */
  pump(now: number): boolean {
    const ws = this.ws;
    if (ws === undefined || this.closed) return false;
    const ahead = this.aheadUntil - now;
    if (ahead >= TOP_UP_BELOW_MS) return true;
    const n = Math.min(this.queued, Math.ceil((LEAD_MS - Math.max(0, ahead)) / FRAME_MS));
    ws.cork(() => {
      for (let i = 0; i < n; i++) ws.send(PLAY, false);
    });
    this.queued -= n;
    this.aheadUntil = Math.max(this.aheadUntil, now) + n * FRAME_MS;
    return this.queued > 0;
  }

  end(): void {
    this.closed = true;
    active.delete(this);
    this.gemini?.close(1000);
  }
}

const active = new Set<FloorCall>();
setInterval(() => {
  const now = performance.now();
  for (const c of active) if (!c.pump(now)) active.delete(c);
}, 10);

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
let nextStream = 0;

App()
  .get('/readyz', (res) => {
    res.end('ready');
  })
  .get('/metrics', (res) => {
    const mem = process.memoryUsage();
    const text =
      `nodejs_eventloop_lag_p99_seconds ${loop.percentile(99) / 1e9}\n` +
      `nodejs_eventloop_lag_max_seconds ${loop.max / 1e9}\n` +
      `nodejs_eventloop_lag_mean_seconds ${loop.mean / 1e9}\n` +
      `nodejs_heap_size_used_bytes ${mem.heapUsed}\n` +
      `nodejs_external_memory_bytes ${mem.external}\n`;
    loop.reset();
    res.end(text);
  })
  .post('/answer', (res) => {
    res.onAborted(() => {});
    res.onData((_chunk, last) => {
      if (!last) return;
      res.cork(() => {
        res.writeHeader('content-type', 'application/xml');
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Response><Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000">${publicWs}/stream/${nextStream++}</Stream></Response>`,
        );
      });
    });
  })
  .post('/hangup', (res) => {
    res.onAborted(() => {});
    res.onData((_chunk, last) => {
      if (last) res.cork(() => res.end(''));
    });
  })
  .ws<{ call: FloorCall }>('/stream/:n', {
    compression: 0,
    maxPayloadLength: 64 * 1024,
    idleTimeout: 60,
    upgrade: (res, req, context) => {
      res.upgrade(
        { call: new FloorCall() },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      ws.getUserData().call.ws = ws;
    },
    message: (ws, message) => ws.getUserData().call.onPlivo(message),
    close: (ws) => ws.getUserData().call.end(),
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) {
      console.error(`floor gateway: cannot listen on ${port}`);
      process.exit(1);
    }
  });

process.on('SIGTERM', () => process.exit(0));
