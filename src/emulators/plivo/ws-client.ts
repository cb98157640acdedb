// The `ws` client, loaded through require with the few types the emulator uses (the project has no @types/ws, and
// a global `declare module 'ws'` here could clash with other parts of the tree).
import { createRequire } from 'node:module';

export interface WsClientOptions {
  headers?: Record<string, string>;
  perMessageDeflate?: boolean;
  handshakeTimeout?: number;
  maxPayload?: number;
}

export interface WsUpgradeResponse {
  statusCode?: number;
  resume(): void;
}

export interface WsClient {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Uint8Array, opts?: { binary?: boolean }, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'unexpected-response', listener: (req: { destroy(): void }, res: WsUpgradeResponse) => void): this;
}

export const WS_OPEN = 1;

const require = createRequire(import.meta.url);
export const WebSocketClient = require('ws') as new (url: string, opts?: WsClientOptions) => WsClient;
