// A minimal BidiGenerateContent server for the session's own tests: it speaks just enough (setup → setupComplete in
// a binary frame) and lets each test script the rest, including frames the real emulator would never send.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

interface WsPeer {
  readonly readyState: number;
  send(data: string | Buffer, opts?: { binary?: boolean }): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

interface WsServer {
  on(event: 'connection', listener: (ws: WsPeer, req: { url?: string }) => void): this;
  on(event: 'listening', listener: () => void): this;
  address(): AddressInfo;
  close(cb?: () => void): void;
  clients: Set<WsPeer>;
}

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws') as {
  WebSocketServer: new (opts: { host: string; port: number }) => WsServer;
};

export interface FakeConnection {
  readonly index: number;
  readonly url: string;
  readonly ws: WsPeer;
  setup: Record<string, unknown> | undefined;
  /** Every client message after setup, parsed. */
  readonly messages: Record<string, unknown>[];
  /** Samples of realtime audio received, in order. */
  readonly audio: number[];
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  /** Server readyState of every earlier connection when this one's setup arrived. */
  earlierStatesAtSetup: number[];
  send(msg: unknown): void;
  sendRaw(data: string | Buffer, binary?: boolean): void;
}

export type SetupReply = 'complete' | 'never' | { close: number; reason?: string };

export interface FakeLiveServer {
  readonly baseUrl: string;
  readonly connections: FakeConnection[];
  /** Decide how to answer each setup (default: setupComplete). */
  onSetup: (conn: FakeConnection) => SetupReply;
  nextConnection(index: number): Promise<FakeConnection>;
  /** Resolves when the connection at `index` has received its setup and been answered. */
  setupDone(index: number): Promise<FakeConnection>;
  close(): Promise<void>;
}

export async function startFakeLiveServer(): Promise<FakeLiveServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.on('listening', () => resolve()));
  const connections: FakeConnection[] = [];
  const waiters: Array<{ index: number; setup: boolean; resolve: (c: FakeConnection) => void }> = [];
  const answered = new Set<number>();
  const notify = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      const c = connections[w.index];
      if (c && (!w.setup || answered.has(w.index))) {
        waiters.splice(i, 1);
        w.resolve(c);
      }
    }
  };
  const wait = (index: number, setup: boolean): Promise<FakeConnection> =>
    new Promise((resolve) => {
      waiters.push({ index, setup, resolve });
      notify();
    });
  const server: FakeLiveServer = {
    baseUrl: `http://127.0.0.1:${wss.address().port}`,
    connections,
    onSetup: () => 'complete',
    nextConnection: (index) => wait(index, false),
    setupDone: (index) => wait(index, true),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
  wss.on('connection', (ws, req) => {
    let resolveClosed: (code: number) => void = () => {};
    const conn: FakeConnection = {
      index: connections.length,
      url: req.url ?? '',
      ws,
      setup: undefined,
      messages: [],
      audio: [],
      closeCode: undefined,
      closed: new Promise<number>((r) => {
        resolveClosed = r;
      }),
      earlierStatesAtSetup: [],
      send: (msg) => ws.send(Buffer.from(JSON.stringify(msg)), { binary: true }),
      sendRaw: (data, binary = true) => ws.send(data, { binary }),
    };
    connections.push(conn);
    ws.on('error', () => {});
    ws.on('close', (code) => {
      conn.closeCode = code;
      resolveClosed(code);
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Record<string, unknown>;
      if (conn.setup === undefined && 'setup' in msg) {
        conn.setup = msg.setup as Record<string, unknown>;
        conn.earlierStatesAtSetup = connections.slice(0, conn.index).map((c) => c.ws.readyState);
        const reply = server.onSetup(conn);
        if (reply === 'complete') conn.send({ setupComplete: {} });
        else if (reply !== 'never') ws.close(reply.close, reply.reason ?? '');
        answered.add(conn.index);
        notify();
        return;
      }
      conn.messages.push(msg);
      const rt = msg.realtimeInput as { audio?: { data?: string } } | undefined;
      if (typeof rt?.audio?.data === 'string') {
        const b = Buffer.from(rt.audio.data, 'base64');
        for (let i = 0; i + 1 < b.length; i += 2) conn.audio.push(b.readInt16LE(i));
      }
    });
    notify();
  });
  return server;
}

/** Polls `cond` every few ms until true (or fails after `timeoutMs`). */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
