// The Plivo audio-stream WebSocket: `/stream/<token>`. The upgrade is refused (never opened) without a valid token
// (401/403) or while this replica already has a stream for the call (409). The replay guard's answer (is this the
// token's first stream, across replicas? has the call ended?) needs Redis, so it comes after the open: until it does,
// Plivo's first messages are held, and a refused stream is closed with 4409 (already served) or 4410 (call ended)
// before any of its messages reach a call. After that each socket is a PlivoStream driven by uWS callbacks. A socket
// that closes before Plivo's `start` gives the stream back, since Plivo retries a failed connect ("attempt twice
// before disconnecting the stream").
//
// Why the upgrade is synchronous: an upgrade completed later (after an await) inside `res.cork()` is sometimes closed
// by uWS right after `open` (1006, no close frame, nothing called by us). HttpResponse::cork() misses the upgrade when
// realloc shrinks the socket in place and reads the new WebSocket's bytes as HTTP state (uNetworking/uWebSockets#1928,
// fixed by uNetworking/uWebSockets#1929, July 2026; uws-pack 20.0.8 predates it). Without the cork uWS.js prints a
// warning per upgrade. It cut about one moved call in seven in tests/server/migrate.test.ts. Once the uWS.js we ship
// has #1929, the claim may move back before the upgrade (so refusals are HTTP statuses again); keep it synchronous
// until then.

import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { createHash } from 'node:crypto';
import type { CallContext } from '../contract/call.ts';
import { errorMessage } from '../errors.ts';
import type { EdgeStats } from '../plivo/edge-stats.ts';
import type { Pacer } from '../plivo/pacer.ts';
import { verifyV3 } from '../plivo/signature.ts';
import { CLOSE_CODES, PlivoStream, type StreamLimits, type StreamTransport } from '../plivo/stream-session.ts';
import { StreamTokenError, verifyStreamToken } from '../plivo/stream-token.ts';
import type { GatewayDeps } from './deps.ts';
import { statusLine } from './http.ts';

interface StreamSocketData {
  ctx: CallContext;
  stream: PlivoStream | undefined;
  closed: boolean;
  /**
   * Plivo's messages that arrived before the replay guard answered, copied (uWS reuses its buffers); undefined once
   * the stream is admitted or refused.
   */
  held: Array<{ message: ArrayBuffer; isBinary: boolean }> | undefined;
  /** Closed by us before the replay guard answered (a flood of held messages, an oversized one). */
  refused: boolean;
}

/** `start` plus 5 s of media: more than any replay-guard answer takes (its Redis calls are bounded well below). */
const MAX_HELD_MESSAGES = 251;

export interface StreamRouteOptions {
  stats: EdgeStats;
  pacer: Pacer;
  limits: StreamLimits;
  /** Streams open on this gateway, for drain, shutdown and start timeouts. */
  streams: Set<PlivoStream>;
}

/** A moved call's stream slot: a short digest of its resumption handle (the handle itself is a credential). */
export function movedSlot(ctx: CallContext): string | undefined {
  if (ctx.resumeHandle === undefined) return undefined;
  return `moved:${createHash('sha256').update(ctx.resumeHandle).digest('base64url').slice(0, 16)}`;
}

/** uWS keeps sending below maxBackpressure; our own audio limit is lower so control messages still fit. */
const CONTROL_HEADROOM = 64 * 1024;

export function mountStreamRoute(app: TemplatedApp, deps: GatewayDeps, o: StreamRouteOptions): void {
  const { config } = deps;
  const byCall = new Map<string, PlivoStream>();
  /** Calls whose socket is open and waiting for the replay guard (a second socket for them is refused at once). */
  const admitting = new Set<string>();
  const maxMessage = config.server.maxWsMessageBytes;

  app.ws<StreamSocketData>('/stream/:token', {
    // uWS drops a socket over its own limit without a close frame (the peer sees 1006). Up to twice our limit we
    // see the message and close cleanly with 1009; beyond that uWS's cut still bounds memory.
    maxPayloadLength: config.server.maxWsMessageBytes * 2,
    maxBackpressure: config.server.wsMaxBackpressureBytes + CONTROL_HEADROOM,
    closeOnBackpressureLimit: false,
    // uWS.DISABLED: audio does not compress and deflate costs CPU per frame. The literal 0 because of a typings
    // quirk of uws-pack 20.0.8 (dist/index.d.mts exports DISABLED as a type only, the module exports the value 0);
    // no upstream issue filed. Import the constant once the typings export it as a value.
    compression: 0,
    // Plivo sends media every 20 ms; a minute of silence on the socket means it is gone.
    idleTimeout: 60,
    sendPingsAutomatically: true,

    upgrade: (res, req, context) => {
      // Everything here is synchronous (see the header: uWS cuts some upgrades completed after an await).
      const token = req.getParameter(0) ?? '';
      const refuse = (status: number, kind: string) => {
        deps.metrics.errors.inc({ kind });
        deps.metrics.webhookRequests.inc({ route: 'stream-upgrade', status: String(status) });
        res.writeStatus(statusLine(status)).writeHeader('content-type', 'text/plain').end(kind, true);
      };
      let ctx: CallContext;
      try {
        ctx = verifyStreamToken(token, config.plivo.streamTokenSecret);
      } catch (err) {
        const reason = err instanceof StreamTokenError ? err.reason : 'malformed';
        deps.securityLog.warn(
          `stream-token-${reason}`,
          { err: errorMessage(err) },
          'stream upgrade refused: bad token',
        );
        refuse(reason === 'malformed' || token === '' ? 401 : 403, `stream-token-${reason}`);
        return;
      }
      if (byCall.has(ctx.callId) || admitting.has(ctx.callId)) {
        // A second live socket for the same call is a replay, not Plivo (one stream per call).
        deps.securityLog.warn(
          'stream-duplicate',
          { callId: ctx.callId },
          'stream upgrade refused: call already has a stream',
        );
        refuse(409, 'stream-duplicate');
        return;
      }
      // The token is what authorises the socket. Plivo also signs the upgrade, but which URL form it signs
      // (wss:// or https://, behind proxies) is unverified, so a mismatch is only logged and counted.
      const signature = req.getHeader('x-plivo-signature-v3');
      if (config.plivo.verifySignatures && signature !== '') {
        const publicUrl = deps.publicUrl();
        const url = req.getUrl();
        const nonce = req.getHeader('x-plivo-signature-v3-nonce');
        const ok = [publicUrl, publicUrl.replace(/^http/, 'ws')].some(
          (base) =>
            verifyV3({
              authToken: config.plivo.authToken,
              method: 'GET',
              url: base + url,
              nonce,
              signatures: signature,
              bodyParams: [],
            }).ok,
        );
        if (!ok) {
          deps.metrics.errors.inc({ kind: 'stream-upgrade-signature' });
          deps.logger.warn({ callId: ctx.callId }, 'stream upgrade signature did not verify (token accepted)');
        }
      }
      admitting.add(ctx.callId);
      deps.metrics.webhookRequests.inc({ route: 'stream-upgrade', status: '101' });
      res.upgrade<StreamSocketData>(
        { ctx, stream: undefined, closed: false, held: [], refused: false },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },

    open: (ws) => {
      const data = ws.getUserData();
      const callId = data.ctx.callId;
      // A moved call's stream (drain migration) is its second for the CallUUID: it claims its own slot of the call,
      // one per resumption handle, so the token still serves one stream only, and none after the call's hangup.
      const slot = movedSlot(data.ctx);
      deps.replayGuard
        .claimStream(callId, slot)
        .then((claim) => {
          admitting.delete(callId);
          if (data.closed || data.refused) {
            // Gone before the answer (Plivo may retry with the same URL), or closed by us: nothing was served.
            if (claim === 'ok') void deps.replayGuard.releaseStream(callId, slot);
            return;
          }
          if (claim === 'used') {
            deps.securityLog.warn('stream-replayed', { callId }, 'stream refused: token already served a stream');
            refuseOpen(ws, data, 'stream-replayed', CLOSE_CODES.streamReplayed);
            return;
          }
          if (claim === 'ended') {
            deps.securityLog.warn('stream-after-end', { callId }, 'stream refused: the call has ended');
            refuseOpen(ws, data, 'stream-call-ended', CLOSE_CODES.callEnded);
            return;
          }
          admit(ws, data);
        })
        .catch((err: unknown) => {
          admitting.delete(callId);
          deps.logger.error({ callId, err: errorMessage(err) }, 'stream admission failed');
          refuseOpen(ws, data, 'stream-upgrade-error', CLOSE_CODES.internal);
        });
    },

    message: (ws, message, isBinary) => {
      const data = ws.getUserData();
      const stream = data.stream;
      if (message.byteLength > maxMessage) {
        o.stats.error('message-too-large');
        if (stream !== undefined) stream.close('protocol-error', CLOSE_CODES.tooBig, 'message too big');
        else if (!data.closed) {
          data.held = undefined;
          data.refused = true;
          ws.end(CLOSE_CODES.tooBig, 'message too big');
        }
        return;
      }
      if (stream !== undefined) {
        stream.onMessage(message, isBinary);
      } else if (data.held !== undefined) {
        if (data.held.length >= MAX_HELD_MESSAGES) {
          refuseOpen(ws, data, 'stream-admission-slow', CLOSE_CODES.internal);
          return;
        }
        data.held.push({ message: message.slice(0), isBinary });
      }
    },

    drain: (ws) => {
      ws.getUserData().stream?.onDrain();
    },

    close: (ws, code) => {
      const data = ws.getUserData();
      data.closed = true;
      data.held = undefined;
      if (code === CLOSE_CODES.tooBig) o.stats.error('message-too-large');
      data.stream?.onTransportClose(code);
    },
  });

  /** The replay guard said no (or could not answer): close before any message reached a call. */
  function refuseOpen(ws: WebSocket<StreamSocketData>, data: StreamSocketData, kind: string, code: number): void {
    data.held = undefined;
    data.refused = true;
    deps.metrics.errors.inc({ kind });
    if (!data.closed) ws.end(code, kind);
  }

  /** The stream is this token's first: it becomes a PlivoStream and gets what Plivo sent meanwhile, in order. */
  function admit(ws: WebSocket<StreamSocketData>, data: StreamSocketData): void {
    const transport = socketTransport(ws, data);
    const stream = new PlivoStream({
      ctx: data.ctx,
      transport,
      audio: deps.audio,
      router: deps.router,
      pacer: o.pacer,
      stats: o.stats,
      limits: o.limits,
      onEnd: (s) => {
        // Never started: Plivo may retry the connect with the same URL (a moved call's too).
        if (!s.started) void deps.replayGuard.releaseStream(s.callId, movedSlot(data.ctx));
        o.streams.delete(s);
        if (byCall.get(s.callId) === s) byCall.delete(s.callId);
        o.stats.activeStreams--;
      },
    });
    data.stream = stream;
    o.streams.add(stream);
    byCall.set(stream.callId, stream);
    o.stats.activeStreams++;
    const held = data.held ?? [];
    data.held = undefined;
    // One cork for the burst: whatever the call answers to the held messages goes out together.
    ws.cork(() => {
      for (const m of held) {
        if (data.closed) return;
        stream.onMessage(m.message, m.isBinary);
      }
    });
  }
}

function socketTransport(ws: WebSocket<StreamSocketData>, data: StreamSocketData): StreamTransport {
  return {
    send: (message) => (data.closed ? 2 : ws.send(message, false, false)),
    bufferedAmount: () => (data.closed ? 0 : ws.getBufferedAmount()),
    end: (code, reason) => {
      if (!data.closed) ws.end(code, reason);
    },
    cork: (fn) => {
      if (data.closed) fn();
      else ws.cork(fn);
    },
  };
}
