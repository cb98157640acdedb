// Plivo's HTTP webhooks: answer (returns the <Stream> XML), hangup, the other callbacks, and the transfer XML.
// Every one is read exactly as it was signed (webhook-body.ts), checked with X-Plivo-Signature-V3, and refused as a
// replay if what it signed was already served (issue 15 D1, D2).
//
// Replays and Plivo's retries. Plivo retries a webhook only when it got no 2xx (by default on connection failure
// and read timeout, rc=1; 4xx/5xx only when the URL asks with rp=…; all within tt ≤ 55 s: plivo.com/docs/voice/
// concepts/callback-configurations). Its docs do not say whether a retry carries a fresh nonce, so neither case is
// assumed: a retry with a fresh nonce passes the nonce check and meets idempotent handlers (/answer returns the
// same stream URL per CallUUID; hangup and status callbacks apply idempotent updates); a retry with the same nonce
// is served if our first answer was a 5xx (the nonce is released then), and refused (409) only if we already served
// it with a 2xx/4xx, i.e. it changes nothing Plivo is waiting for. A nonce is claimed before the handler runs, so
// two concurrent deliveries of one request cannot both run.
import type { TemplatedApp } from 'uWebSockets.js';
import type { CallContext } from '../contract/call.ts';
import { errorMessage } from '../errors.ts';
import { callLogger } from '../log.ts';
import { mintStreamToken, StreamTokenError, verifyStreamToken, verifyTransferToken } from '../plivo/stream-token.ts';
import { TRANSFER_PATH } from '../plivo/transfer.ts';
import { baseContext, parseAnswer, parseHangup, WebhookParamsError } from '../plivo/webhook-params.ts';
import { dialXml, rejectXml, streamXml } from '../plivo/xml.ts';
import type { GatewayDeps } from './deps.ts';
import { BodyTooLargeError, Reply, type RequestInfo, readBody, requestInfo } from './http.ts';
import { readSignedWebhook, WebhookBodyError } from './webhook-body.ts';

const MAX_WEBHOOK_BODY = 64 * 1024;
/** Where a draining replica sends a moved call (Plivo transfer aleg_url): `${RESUME_PATH}/<sealed stream token>`. */
export const RESUME_PATH = '/resume';

export interface WebhookRequest {
  info: RequestInfo;
  params: Record<string, string>;
  reply: Reply;
}

/**
 * Mounts a Plivo webhook: reads the body, parses it as it was signed (415/400 if it cannot be), verifies the
 * signature (403), refuses a replay (409), then runs `handle`. Errors become 400 (bad parameters) or 500, and every
 * reply is counted.
 */
export function plivoWebhook(
  app: TemplatedApp,
  deps: GatewayDeps,
  methods: ReadonlyArray<'get' | 'post'>,
  pattern: string,
  route: string,
  handle: (r: WebhookRequest) => Promise<void> | void,
): void {
  const handler = (res: import('uWebSockets.js').HttpResponse, req: import('uWebSockets.js').HttpRequest) => {
    const reply = new Reply(res);
    const info = requestInfo(req);
    const count = (status: number) => deps.metrics.webhookRequests.inc({ route, status: String(status) });
    const body = info.method === 'POST' ? readBody(reply, MAX_WEBHOOK_BODY) : Promise.resolve(Buffer.alloc(0));
    let replayKey: string | undefined;
    body
      .then(async (buf) => {
        let signed: ReturnType<typeof readSignedWebhook>;
        try {
          signed = readSignedWebhook(info, buf);
        } catch (err) {
          if (!(err instanceof WebhookBodyError)) throw err;
          deps.securityLog.warn(`webhook-${err.reason}`, { route }, 'Plivo webhook refused: body cannot be verified');
          reply.text(err.status, err.message);
          count(err.status);
          return;
        }
        const verified = deps.verifyPlivoSignature(info, signed.bodyPairs, route);
        if (!verified.ok) {
          reply.text(403, 'invalid signature');
          count(403);
          return;
        }
        if (verified.replayKey !== undefined) {
          if (!(await deps.replayGuard.claimNonce(verified.replayKey))) {
            deps.metrics.errors.inc({ kind: 'webhook-replay' });
            deps.securityLog.warn('webhook-replay', { route }, 'Plivo webhook refused: replayed nonce');
            reply.text(409, 'replayed request');
            count(409);
            return;
          }
          replayKey = verified.replayKey;
        }
        await handle({ info, params: signed.params, reply });
        if (!reply.done && !reply.aborted) reply.empty(200);
        count(reply.aborted ? 499 : reply.status);
        // A handler that answered 5xx asks Plivo to retry (rp=5xx): that retry, nonce and all, must be served.
        if (replayKey !== undefined && reply.status >= 500) void deps.replayGuard.releaseNonce(replayKey);
      })
      .catch(async (err: unknown) => {
        if (err instanceof BodyTooLargeError) {
          reply.text(413, 'body too large');
          count(413);
        } else if (err instanceof WebhookParamsError || err instanceof StreamTokenError) {
          reply.text(400, err.message);
          count(400);
        } else if (!reply.aborted) {
          deps.logger.error({ err: errorMessage(err), route }, 'webhook handler failed');
          deps.metrics.errors.inc({ kind: 'webhook-handler' });
          // Our failure, not the request's: a retry of this very request must be served (released before the
          // 500 goes out, so the retry cannot race it).
          if (replayKey !== undefined) await deps.replayGuard.releaseNonce(replayKey);
          reply.text(500, 'internal error');
          count(500);
        }
      });
  };
  for (const m of methods) app[m](pattern, handler);
}

export function mountPlivoWebhooks(app: TemplatedApp, deps: GatewayDeps): void {
  plivoWebhook(app, deps, ['post', 'get'], '/answer', 'answer', async ({ params, reply }) => {
    const info = parseAnswer(params);
    const log = callLogger(info.callId);
    if (deps.isDraining() || deps.isFull() || deps.isOverloaded()) {
      // Busy tone rather than a stream nobody will serve (or one that would degrade every call up); Plivo ends the
      // call politely.
      const why = deps.isDraining() ? 'draining' : deps.isFull() ? 'at-capacity' : 'overloaded';
      log.warn({ why }, 'refusing call: draining, at MAX_CALLS or overloaded');
      deps.metrics.errors.inc({
        kind:
          why === 'draining'
            ? 'answer-while-draining'
            : why === 'at-capacity'
              ? 'answer-at-capacity'
              : 'answer-overloaded',
      });
      reply.xml(200, rejectXml('busy'));
      return;
    }
    // Idempotent per CallUUID: a second delivery (Plivo's retry) gets the stream URL the first one got, without
    // running the router again; an ended call gets nothing.
    const prior = await deps.replayGuard.answerState(info.callId);
    let token: string;
    if (prior.kind === 'ended') {
      refuseEnded(deps, info.callId, reply);
      return;
    }
    if (prior.kind === 'answered') {
      token = prior.token;
      log.info('answer webhook delivered again; same stream URL');
    } else {
      const ctx = await deps.router.onAnswer(info, baseContext(info));
      const stored = await deps.replayGuard.answerOnce(info.callId, mintTokenOrMinimal(deps, ctx));
      if (stored === 'ended') {
        refuseEnded(deps, info.callId, reply);
        return;
      }
      token = stored.token;
    }
    const publicUrl = deps.publicUrl();
    const xml = streamXml({
      url: `${publicUrl.replace(/^http/, 'ws')}/stream/${token}`,
      format: deps.streamFormat,
      statusCallbackUrl: `${publicUrl}/callbacks/stream-status`,
    });
    log.info({ direction: info.direction }, 'answered; stream XML sent');
    reply.xml(200, xml);
  });

  plivoWebhook(app, deps, ['post', 'get'], '/hangup', 'hangup', async ({ params, reply }) => {
    const info = parseHangup(params);
    // Before the 200: from here on no answer and no stream is served for this call.
    await deps.replayGuard.markEnded(info.callId);
    // Plivo only needs a 2xx; the router's work (records, cleanup) must not hold the request open.
    reply.empty(200);
    Promise.resolve()
      .then(() => deps.router.onHangup(info))
      .catch((err: unknown) => {
        deps.metrics.errors.inc({ kind: 'hangup-handler' });
        callLogger(info.callId).error({ err: errorMessage(err) }, 'hangup handler failed');
      });
  });

  const callbacks = [
    ['stream-status', 'stream-status'],
    ['machine', 'machine'],
    ['ring', 'ring'],
  ] as const;
  for (const [path, kind] of callbacks) {
    plivoWebhook(app, deps, ['post', 'get'], `/callbacks/${path}`, `callback-${kind}`, async ({ params, reply }) => {
      await deps.router.onCallback?.(kind, params);
      reply.empty(200);
    });
  }

  // A call moved from a draining replica (Plivo's transfer API fetched this as aleg_url): the sealed stream token
  // in the path names the call and carries its Gemini resumption handle; the XML opens the new stream with it.
  // Refused: a token for another call than the one Plivo transfers, and any call that has hung up (a replay of the
  // URL later finds the call ended in the replay guard; the stream itself is single-use, see stream-route.ts).
  plivoWebhook(app, deps, ['post', 'get'], `${RESUME_PATH}/:token`, 'resume', async ({ info, params, reply }) => {
    const token = info.path.slice(RESUME_PATH.length + 1);
    let ctx: CallContext;
    try {
      ctx = verifyStreamToken(token, deps.config.plivo.streamTokenSecret);
      if (ctx.resumeHandle === undefined) throw new StreamTokenError('malformed', ctx.callId);
      if (params.CallUUID !== undefined && params.CallUUID !== ctx.callId) {
        throw new StreamTokenError('malformed', ctx.callId);
      }
    } catch (err) {
      deps.metrics.errors.inc({ kind: 'resume-token' });
      const reason = err instanceof StreamTokenError ? err.reason : 'malformed';
      deps.securityLog.warn(`resume-token-${reason}`, {}, 'resume XML requested with a bad token');
      reply.text(403, 'invalid token');
      return;
    }
    if ((await deps.replayGuard.answerState(ctx.callId)).kind === 'ended') {
      deps.securityLog.warn('resume-after-end', { callId: ctx.callId }, 'resume XML refused: the call has ended');
      reply.text(410, 'call ended');
      return;
    }
    const publicUrl = deps.publicUrl();
    callLogger(ctx.callId).info('moved call: resume XML served');
    reply.xml(
      200,
      streamXml({
        url: `${publicUrl.replace(/^http/, 'ws')}/stream/${token}`,
        format: deps.streamFormat,
        statusCallbackUrl: `${publicUrl}/callbacks/stream-status`,
      }),
    );
  });

  plivoWebhook(app, deps, ['post', 'get'], `${TRANSFER_PATH}/:token`, 'transfer-xml', ({ info, reply }) => {
    const token = info.path.slice(TRANSFER_PATH.length + 1);
    let target: { callId: string; target: string };
    try {
      target = verifyTransferToken(token, deps.config.plivo.streamTokenSecret);
    } catch (err) {
      deps.metrics.errors.inc({ kind: 'transfer-token' });
      const reason = err instanceof StreamTokenError ? err.reason : 'malformed';
      deps.securityLog.warn(`transfer-token-${reason}`, {}, 'transfer XML requested with a bad token');
      reply.text(403, 'invalid token');
      return;
    }
    callLogger(target.callId).info('transfer XML served');
    reply.xml(200, dialXml(target.target, deps.config.plivo.phoneNumber));
  });
}

function refuseEnded(deps: GatewayDeps, callId: string, reply: Reply): void {
  deps.metrics.errors.inc({ kind: 'answer-after-end' });
  callLogger(callId).warn('answer webhook for a call that has ended; refused');
  reply.text(409, 'call has ended');
}

/**
 * A context too large for a URL (long objective or variables) must not lose the call: fall back to the bare
 * call identity; the router can still find the rest by outboundId.
 */
function mintTokenOrMinimal(deps: GatewayDeps, ctx: CallContext): string {
  const o = { secret: deps.config.plivo.streamTokenSecret, ttlS: deps.config.plivo.streamTokenTtlS };
  try {
    return mintStreamToken(ctx, o);
  } catch (err) {
    callLogger(ctx.callId).warn({ err: errorMessage(err) }, 'call context too large for the stream URL; trimmed');
    deps.metrics.errors.inc({ kind: 'token-too-large' });
    const { callId, direction, from, to, outboundId, campaignId } = ctx;
    return mintStreamToken({ callId, direction, from, to, outboundId, campaignId }, o);
  }
}
