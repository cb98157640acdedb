// Fault injection on a call's stream, for tests of what a gateway does when Plivo misbehaves or the network does.
// Everything here is something the real service or the path to it can do; none of it runs unless a test asks:
// - raw frames (malformed JSON, binary frames, oversized messages) on the stream socket;
// - a peer that stops reading (TCP backpressure): the gateway's sends pile up in its socket buffer;
// Other knobs live where they act: signature modes (signature.ts: missing, wrong, stale nonce), `idleMedia: 'none'`
// (a silent caller who sends no media), and dropped media when the gateway stops reading (call.ts, MAX_SEND_BUFFER).
import { WS_OPEN, type WsClient } from './ws-client.ts';

export function sendRaw(ws: WsClient | undefined, data: string | Uint8Array, opts: { binary?: boolean } = {}): void {
  if (!ws || ws.readyState !== WS_OPEN) throw new Error('the call has no open stream');
  ws.send(opts.binary && typeof data === 'string' ? Buffer.from(data) : data, { binary: opts.binary ?? false });
}

/** Stops reading the stream socket: what a congested or stalled Plivo edge looks like to the gateway. */
export function pauseReading(ws: WsClient | undefined): void {
  ws?.pause();
}

export function resumeReading(ws: WsClient | undefined): void {
  ws?.resume();
}
