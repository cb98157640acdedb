// The WebSocket transport we hand to @google/genai (its `WebSocketFactory` extension point), replacing the SDK's
// NodeWebSocket. Why:
//  - The SDK parses every frame inside an un-awaited async function: a frame that is not JSON (or a callback that
//    throws) becomes an unhandled rejection and kills the process with every call in it. We parse first and drop
//    what does not parse.
//  - Once a session is established we dispatch parsed frames ourselves, so each frame is parsed exactly once
//    (the SDK path would parse again and build a LiveServerMessage with getters we never use).
//  - We need the raw socket per connection attempt: to abort a connect the SDK would wait on forever (it has no
//    timeout), to close an old connection and wait for it before resuming, and to read bufferedAmount.
// The SDK still builds the URL, auth headers and setup message, and serialises everything we send.
// Upstream quirks worked around here (@google/genai 3.3): the unguarded parse/callback in the SDK's message handler
// (no upstream issue filed; googleapis/js-genai#714 reports the same handler's blind JSON.parse for ArrayBuffer
// frames) and the missing connect timeout (googleapis/js-genai#1257: `live.connect()` may never return).
// Remove the guard (keep the single parse) when the SDK catches what its message handler throws and offers a
// connect timeout; tests/gemini cover both, so a pinned-version bump shows when it is safe.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { createSecureContext, type SecureContext } from 'node:tls';
import { AudioCut, parseServerFrame } from './wire.ts';

interface WsClientOptions {
  headers?: Record<string, string>;
  perMessageDeflate?: boolean;
  handshakeTimeout?: number;
  maxPayload?: number;
  /** Passed through to tls.connect for wss:// (ignored for ws://). */
  secureContext?: SecureContext;
  generateMask?: (mask: Buffer) => void;
}

let tlsContext: SecureContext | undefined;

// Client frame masks (RFC 6455 §5.3: from a strong source of entropy), drawn from a pool as ws itself does, with one
// difference: never all zero. ws sends an all-zero mask without masking, and then queues the caller's own buffer
// instead of a masked copy; `sendText` hands it a buffer that is rewritten for the next chunk, so that buffer must
// always be copied.
const maskPool = Buffer.allocUnsafe(8192);
let maskAt = maskPool.length;
function generateMask(mask: Buffer): void {
  if (maskAt === maskPool.length) {
    randomFillSync(maskPool);
    maskAt = 0;
  }
  mask[0] = maskPool[maskAt++]!;
  mask[1] = maskPool[maskAt++]!;
  mask[2] = maskPool[maskAt++]!;
  mask[3] = maskPool[maskAt++]! | ((mask[0] | mask[1] | mask[2]) === 0 ? 1 : 0);
}

/**
 * One TLS context for every Gemini connection of the process. Without it, ws has tls.connect build a new one (an
 * OpenSSL SSL_CTX) per connection: measured 12–30 KiB more RSS per connection and a context build per connect, for
 * the same trust. It is the default context: Node's root store plus NODE_EXTRA_CA_CERTS, hostname checks on.
 */
function geminiTlsContext(): SecureContext {
  tlsContext ??= createSecureContext();
  return tlsContext;
}

interface WsClient {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Uint8Array, options?: { binary: boolean }): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

const WS_OPEN = 1;
const WS_CLOSED = 3;

// No @types/ws in the project, and a global `declare module 'ws'` could clash with other parts of the tree.
const require = createRequire(import.meta.url);
const WebSocketClient = require('ws') as new (url: string, opts?: WsClientOptions) => WsClient;

/** The callbacks the SDK passes to `WebSocketFactory.create` (shape from the SDK's own declaration). */
export interface SdkSocketCallbacks {
  onopen: () => void;
  onerror: (e: unknown) => void;
  onmessage: (e: unknown) => void;
  onclose: (e: unknown) => void;
}

/**
 * One `live.connect()` call. Bound with AsyncLocalStorage around the call so the factory, which the SDK invokes
 * after its own awaits (Vertex auth), can find out which connection it is creating the socket for.
 */
export interface ConnectAttempt {
  socket: GuardedSocket | undefined;
  aborted: boolean;
  closeCode: number | undefined;
  closeReason: string | undefined;
  onMalformed(): void;
  /** Give up on this attempt now (set by the session while it waits for the SDK). */
  cancel(): void;
}

export const attemptContext = new AsyncLocalStorage<ConnectAttempt>();

// Bundled 3.x events can carry seconds of audio; anything near this is not a Live frame.
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export class GuardedSocket {
  private ws: WsClient | undefined;
  private direct: ((msg: unknown, cut: AudioCut) => void) | undefined;
  /** Where the last direct frame's audio base64 is (valid during the handler call only). */
  private readonly cut = new AudioCut();
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly callbacks: SdkSocketCallbacks;
  private readonly attempt: ConnectAttempt | undefined;
  private closedPromise: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;

  constructor(
    url: string,
    headers: Record<string, string>,
    callbacks: SdkSocketCallbacks,
    attempt: ConnectAttempt | undefined,
  ) {
    this.url = url;
    this.headers = headers;
    this.callbacks = callbacks;
    this.attempt = attempt;
  }

  connect(): void {
    if (this.attempt?.aborted) {
      // Never open; let the SDK's connect() reject instead of waiting for an open that will not come.
      queueMicrotask(() => this.callbacks.onclose({ code: 1006, reason: 'connect aborted', wasClean: false }));
      return;
    }
    // perMessageDeflate off: base64 audio barely compresses and zlib per frame costs real CPU at thousands of calls.
    const ws = new WebSocketClient(this.url, {
      headers: this.headers,
      perMessageDeflate: false,
      maxPayload: MAX_FRAME_BYTES,
      generateMask,
      ...(this.url.startsWith('wss:') ? { secureContext: geminiTlsContext() } : {}),
    });
    this.ws = ws;
    ws.on('open', () => this.callbacks.onopen());
    ws.on('error', (err) => this.callbacks.onerror({ message: err.message, error: err }));
    ws.on('close', (code, reason) => {
      const text = reason.toString();
      if (this.attempt) {
        this.attempt.closeCode = code;
        this.attempt.closeReason = text;
      }
      this.resolveClosed?.();
      this.callbacks.onclose({ code, reason: text, wasClean: code !== 1006 });
    });
    ws.on('message', (data) => this.onFrame(data));
  }

  private onFrame(data: Buffer): void {
    const direct = this.direct;
    if (direct !== undefined) {
      let msg: unknown;
      try {
        msg = parseServerFrame(data, this.cut);
      } catch {
        this.attempt?.onMalformed();
        return;
      }
      direct(msg, this.cut);
      return;
    }
    // Until the SDK's connect() has resolved, frames go through the SDK (it needs setupComplete); only a few
    // frames, so checking them here costs one extra parse each.
    try {
      JSON.parse(data.toString());
    } catch {
      this.attempt?.onMalformed();
      return;
    }
    this.callbacks.onmessage({ data });
  }

  /**
   * From now on, parsed frames go straight to `handler` (which must not throw), with where the frame's audio base64
   * was cut out of the parse (src/gemini/wire.ts parseServerFrame).
   */
  setDirect(handler: (msg: unknown, cut: AudioCut) => void): void {
    this.direct = handler;
  }

  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WS_OPEN;
  }

  send(message: string): void {
    if (this.ws === undefined) throw new Error('WebSocket is not connected');
    this.ws.send(message);
  }

  /**
   * A text frame from UTF-8 bytes (the uplink's reused message buffer): ws masks it into a new buffer before writing
   * or queueing, so the caller may rewrite `bytes` as soon as this returns (see generateMask).
   */
  sendText(bytes: Uint8Array): void {
    if (this.ws === undefined) throw new Error('WebSocket is not connected');
    this.ws.send(bytes, { binary: false });
  }

  close(): void {
    this.ws?.close(1000);
  }

  terminate(): void {
    this.ws?.terminate();
  }

  /** Close (code 1000) and wait until the socket is gone; terminate if the peer does not finish the handshake. */
  closeAndWait(timeoutMs: number): Promise<void> {
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WS_CLOSED) return Promise.resolve();
    if (this.closedPromise === undefined) {
      this.closedPromise = new Promise<void>((resolve) => {
        const timer = setTimeout(() => ws.terminate(), timeoutMs);
        this.resolveClosed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      try {
        ws.close(1000);
      } catch {
        ws.terminate();
      }
    }
    return this.closedPromise;
  }
}

export class GuardedSocketFactory {
  readonly supportsHeaders = true;

  create(url: string, headers: Record<string, string>, callbacks: SdkSocketCallbacks): GuardedSocket {
    const attempt = attemptContext.getStore();
    const socket = new GuardedSocket(url, headers, callbacks, attempt);
    if (attempt !== undefined) attempt.socket = socket;
    return socket;
  }
}
