// The slice of the `ws` package the emulator uses, typed locally: the project has no @types/ws, and a global
// `declare module 'ws'` could clash with other parts of the tree.

import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';

export interface ServerSocket {
  readonly readyState: number;
  readonly OPEN: number;
  send(data: Buffer | string, opts: { binary: boolean }): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

export interface SocketServer {
  readonly clients: Set<ServerSocket>;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: ServerSocket) => void): void;
  close(): void;
}

const require = createRequire(import.meta.url);
const ws = require('ws') as {
  WebSocketServer: new (opts: { noServer: true; perMessageDeflate: boolean; maxPayload: number }) => SocketServer;
};

export function createSocketServer(maxPayload: number): SocketServer {
  // No permessage-deflate, like the real service.
  return new ws.WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload });
}
