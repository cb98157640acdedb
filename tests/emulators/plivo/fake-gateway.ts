// A tiny stand-in for the gateway, written independently of src/: answers webhooks with configurable XML, accepts
// the stream WebSocket and lets a test script the gateway's side (play, checkpoint, clear, echo).
import {
  App,
  type HttpRequest,
  type HttpResponse,
  type TemplatedApp,
  type us_listen_socket,
  us_listen_socket_close,
  us_socket_local_port,
  type WebSocket,
} from 'uWebSockets.js';

export interface Webhook {
  path: string;
  method: string;
  /** Full URL as the emulator called it (http://127.0.0.1:PORT/path?query). */
  url: string;
  params: Record<string, string>;
  /** Body parameters only (what a POST signature covers). */
  body: Record<string, string>;
  headers: Record<string, string>;
}

export interface FakeGatewayOptions {
  /** The answer XML for a call (default: bidirectional μ-law stream to /stream/<CallUUID>). */
  answerXml?: (params: Record<string, string>, gw: FakeGateway) => string;
  /** Echo every inbound media payload straight back as playAudio (μ-law 8 kHz streams). */
  echo?: boolean;
  /** HTTP status for every webhook (default 200). */
  webhookStatus?: number;
  /** Reply to the transfer URL. */
  transferXml?: string;
}

interface StreamData {
  path: string;
  headers: Record<string, string>;
  stream?: FakeStream;
}

type Json = Record<string, unknown>;

export class FakeStream {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly messages: Json[] = [];
  closed: { code: number } | undefined;
  private readonly ws: WebSocket<StreamData>;
  private readonly waiters: Array<{ pred: (m: Json) => boolean; resolve: (m: Json) => void }> = [];
  private closeWaiters: Array<() => void> = [];

  constructor(ws: WebSocket<StreamData>, path: string, headers: Record<string, string>) {
    this.ws = ws;
    this.path = path;
    this.headers = headers;
  }

  get streamId(): string {
    const start = this.messages.find((m) => m.event === 'start') as { start: { streamId: string } } | undefined;
    return start?.start.streamId ?? '';
  }

  send(msg: Json | string): void {
    if (this.closed) return;
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg), false);
  }

  playUlaw(bytes: Uint8Array, frameBytes = 160): void {
    for (let off = 0; off < bytes.length; off += frameBytes) {
      const payload = Buffer.from(bytes.subarray(off, off + frameBytes)).toString('base64');
      this.send({ event: 'playAudio', media: { contentType: 'audio/x-mulaw', sampleRate: 8000, payload } });
    }
  }

  close(code = 1000): void {
    if (this.closed) return;
    this.ws.end(code, 'bye');
  }

  waitFor(event: string, pred: (m: Json) => boolean = () => true, timeoutMs = 5000): Promise<Json> {
    const seen = this.messages.find((m) => m.event === event && pred(m));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`fake gateway: no ${event} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        pred: (m) => m.event === event && pred(m),
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  waitClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }

  onMessage(m: Json): void {
    this.messages.push(m);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.pred(m)) {
        this.waiters.splice(i, 1);
        w.resolve(m);
      }
    }
  }

  onClose(code: number): void {
    this.closed = { code };
    for (const r of this.closeWaiters.splice(0)) r();
  }
}

export class FakeGateway {
  readonly webhooks: Webhook[] = [];
  readonly streams: FakeStream[] = [];
  port = 0;
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  private readonly opts: FakeGatewayOptions;
  private webhookWaiters: Array<{ pred: (w: Webhook) => boolean; resolve: (w: Webhook) => void }> = [];
  private streamWaiters: Array<{ pred: (s: FakeStream) => boolean; resolve: (s: FakeStream) => void }> = [];

  constructor(opts: FakeGatewayOptions = {}) {
    this.opts = opts;
    this.app = App();
    this.app.ws<StreamData>('/stream/*', {
      maxPayloadLength: 1024 * 1024,
      upgrade: (res, req, context) => {
        const headers = copyHeaders(req);
        const path = req.getUrl();
        res.upgrade<StreamData>(
          { path, headers },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => {
        const d = ws.getUserData();
        const s = new FakeStream(ws, d.path, d.headers);
        d.stream = s;
        this.streams.push(s);
        this.streamWaiters = settle(this.streamWaiters, s);
      },
      message: (ws, data, isBinary) => {
        const s = ws.getUserData().stream!;
        const text = Buffer.from(data).toString('utf8');
        let m: Json;
        try {
          m = JSON.parse(text) as Json;
        } catch {
          m = { event: '#raw', text, isBinary };
        }
        if (isBinary) m = { event: '#raw', text, isBinary };
        s.onMessage(m);
        if (this.opts.echo && m.event === 'media') {
          const media = m.media as { payload: string };
          s.send({
            event: 'playAudio',
            media: { contentType: 'audio/x-mulaw', sampleRate: 8000, payload: media.payload },
          });
        }
      },
      close: (ws, code) => {
        ws.getUserData().stream?.onClose(code);
      },
    });
    this.app.any('/*', (res, req) => this.onHttp(res, req));
  }

  get httpBase(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsBase(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  listen(): Promise<this> {
    return new Promise((resolve, reject) => {
      this.app.listen('127.0.0.1', 0, (ls) => {
        if (!ls) return reject(new Error('fake gateway could not listen'));
        this.listenSocket = ls;
        this.port = us_socket_local_port(ls);
        resolve(this);
      });
    });
  }

  close(): void {
    if (this.listenSocket) us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    this.app.close();
  }

  defaultXml(
    callUuid: string,
    attrs = 'bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000"',
  ) {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n  <Stream ${attrs}>${this.wsBase}/stream/${callUuid}?a=1&amp;b=2</Stream>\n</Response>`;
  }

  waitWebhook(pred: (w: Webhook) => boolean, timeoutMs = 5000): Promise<Webhook> {
    const seen = this.webhooks.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`fake gateway: no matching webhook within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.webhookWaiters.push({
        pred,
        resolve: (w) => {
          clearTimeout(t);
          resolve(w);
        },
      });
    });
  }

  waitStream(callUuid: string, timeoutMs = 5000): Promise<FakeStream> {
    const pred = (s: FakeStream) => s.path === `/stream/${callUuid}`;
    const seen = this.streams.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`fake gateway: no stream for ${callUuid}`)), timeoutMs);
      this.streamWaiters.push({
        pred,
        resolve: (s) => {
          clearTimeout(t);
          resolve(s);
        },
      });
    });
  }

  private onHttp(res: HttpResponse, req: HttpRequest): void {
    const path = req.getUrl();
    const query = req.getQuery() ?? '';
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const headers = copyHeaders(req);
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const chunks: Buffer[] = [];
    res.onData((ab, last) => {
      chunks.push(Buffer.from(ab.slice(0)));
      if (!last) return;
      const params: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(query)) params[k] = v;
      const body: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) body[k] = v;
      Object.assign(params, body);
      const hook: Webhook = {
        path,
        method,
        url: `${this.httpBase}${path}${query ? `?${query}` : ''}`,
        params,
        body,
        headers,
      };
      this.webhooks.push(hook);
      this.webhookWaiters = settle(this.webhookWaiters, hook);
      let reply = '';
      if (path === '/answer') {
        reply = this.opts.answerXml ? this.opts.answerXml(params, this) : this.defaultXml(params.CallUUID ?? 'x');
      } else if (path === '/resume') {
        // A call moved here: the new XML opens a second stream for the same CallUUID.
        reply = this.defaultXml(`${params.CallUUID ?? 'x'}-moved`);
      } else if (path === '/transfer') {
        reply = this.opts.transferXml ?? '<Response><Dial><Number>14155550199</Number></Dial></Response>';
      }
      const status = this.opts.webhookStatus ?? 200;
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(`${status} X`).writeHeader('Content-Type', 'application/xml').end(reply);
      });
    });
  }
}

/** Resolves the waiters that match `x`, returns the rest. */
function settle<T>(waiters: Array<{ pred: (x: T) => boolean; resolve: (x: T) => void }>, x: T) {
  return waiters.filter((w) => {
    if (!w.pred(x)) return true;
    w.resolve(x);
    return false;
  });
}

function copyHeaders(req: HttpRequest): Record<string, string> {
  const h: Record<string, string> = {};
  req.forEach((k, v) => {
    h[k] = v;
  });
  return h;
}

/** The V3 algorithm as documented (plivo.md §2.4), reimplemented here so the emulator's signer is checked. */
export async function expectedSignature(
  token: string,
  method: 'GET' | 'POST',
  url: string,
  nonce: string,
  params: Record<string, string>,
): Promise<string> {
  const { createHmac } = await import('node:crypto');
  const u = new URL(url);
  const base = `${u.protocol}//${u.host}${u.pathname}`;
  const q = [...u.searchParams]
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const keys = Object.keys(params).sort();
  let s: string;
  if (method === 'GET' || keys.length === 0) s = q ? `${base}?${q}` : base;
  else s = `${base}?${q ? `${q}.` : ''}${keys.map((k) => k + params[k]).join('')}`;
  return createHmac('sha256', token).update(`${s}.${nonce}`).digest('base64');
}
