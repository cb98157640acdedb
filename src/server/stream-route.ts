// The Plivo audio-stream WebSocket: `/stream/<token>`. The upgrade is refused (never opened) without a valid
// token, for a call whose stream was already served (409: a token serves one stream once, across replicas through
// the replay guard) or for a call that has ended (410). After that each socket is a PlivoStream driven by uWS
// callbacks. A socket that closes before Plivo's `start` gives the stream back, since Plivo retries a failed
// connect ("attempt twice before disconnecting the stream").

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
}

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
      // req dies when this function returns: copy everything first.
      const token = req.getParameter(0) ?? '';
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const url = req.getUrl();
      const nonce = req.getHeader('x-plivo-signature-v3-nonce');
      const signature = req.getHeader('x-plivo-signature-v3');
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const refuse = (status: number, kind: string) => {
        deps.metrics.errors.inc({ kind });
        deps.metrics.webhookRequests.inc({ route: 'stream-upgrade', status: String(status) });
        if (aborted) return;
        res.cork(() => {
          res.writeStatus(statusLine(status)).writeHeader('content-type', 'text/plain').end(kind, true);
        });
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
      if (byCall.has(ctx.callId)) {
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
      if (config.plivo.verifySignatures && signature !== '') {
        const publicUrl = deps.publicUrl();
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
      const callId = ctx.callId;
      // A moved call's stream (drain migration) is its second for the CallUUID: it claims its own slot of the call,
      // one per resumption handle, so the token still serves one stream only, and none after the call's hangup.
      const slot = movedSlot(ctx);
      deps.replayGuard
        .claimStream(callId, slot)
        .then((claim) => {
          if (claim === 'used') {
            deps.securityLog.warn(
              'stream-replayed',
              { callId },
              'stream upgrade refused: token already served a stream',
            );
            refuse(409, 'stream-replayed');
            return;
          }
          if (claim === 'ended') {
            deps.securityLog.warn('stream-after-end', { callId }, 'stream upgrade refused: the call has ended');
            refuse(410, 'stream-call-ended');
            return;
          }
          if (aborted) {
            void deps.replayGuard.releaseStream(callId, slot);
            return;
          }
          deps.metrics.webhookRequests.inc({ route: 'stream-upgrade', status: '101' });
          res.cork(() => {
            res.upgrade<StreamSocketData>(
              { ctx, stream: undefined, closed: false },
              key,
              protocol,
              extensions,
              context,
            );
          });
        })
        .catch((err: unknown) => {
          deps.logger.error({ callId, err: errorMessage(err) }, 'stream upgrade failed');
          refuse(500, 'stream-upgrade-error');
        });
    },

    open: (ws) => {
      const data = ws.getUserData();
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
    },

    message: (ws, message, isBinary) => {
      const stream = ws.getUserData().stream;
      if (message.byteLength > maxMessage) {
        o.stats.error('message-too-large');
        stream?.close('protocol-error', CLOSE_CODES.tooBig, 'message too big');
        return;
      }
      stream?.onMessage(message, isBinary);
    },

    drain: (ws) => {
      ws.getUserData().stream?.onDrain();
    },

    close: (ws, code) => {
      const data = ws.getUserData();
      data.closed = true;
      if (code === CLOSE_CODES.tooBig) o.stats.error('message-too-large');
      data.stream?.onTransportClose(code);
    },
  });
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
