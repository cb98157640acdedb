// Plivo's HTTP webhooks: answer (returns the <Stream> XML), hangup, the other callbacks, and the transfer XML.
// Every one is checked with X-Plivo-Signature-V3 before its parameters are even parsed.
import type { TemplatedApp } from 'uWebSockets.js';
import type { CallContext } from '../calls/types.ts';
import { errorMessage } from '../errors.ts';
import { callLogger } from '../log.ts';
import { mintStreamToken, StreamTokenError, verifyTransferToken } from '../plivo/stream-token.ts';
import { TRANSFER_PATH } from '../plivo/transfer.ts';
import { baseContext, parseAnswer, parseHangup, WebhookParamsError } from '../plivo/webhook-params.ts';
import { dialXml, rejectXml, streamXml } from '../plivo/xml.ts';
import type { GatewayDeps } from './gateway.ts';
import { BodyTooLargeError, parseForm, type RequestInfo, Reply, readBody, requestInfo } from './http.ts';

const MAX_WEBHOOK_BODY = 64 * 1024;

export interface WebhookRequest {
  info: RequestInfo;
  params: Record<string, string>;
  reply: Reply;
}

/**
 * Mounts a Plivo webhook: reads the body, verifies the signature (403 on failure), merges query and form
 * parameters, then runs `handle`. Errors become 400 (bad parameters) or 500, and every reply is counted.
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
    body
      .then(async (buf) => {
        if (!deps.verifyPlivoSignature(info, buf, route)) {
          reply.text(403, 'invalid signature');
          count(403);
          return;
        }
        const params = { ...parseForm(info.query), ...parseForm(buf.toString('utf8')) };
        await handle({ info, params, reply });
        if (!reply.done && !reply.aborted) reply.empty(200);
        count(reply.aborted ? 499 : reply.status);
      })
      .catch((err: unknown) => {
        if (err instanceof BodyTooLargeError) {
          reply.text(413, 'body too large');
          count(413);
        } else if (err instanceof WebhookParamsError || err instanceof StreamTokenError) {
          reply.text(400, err.message);
          count(400);
        } else if (!reply.aborted) {
          deps.logger.error({ err: errorMessage(err), route }, 'webhook handler failed');
          deps.metrics.errors.inc({ kind: 'webhook-handler' });
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
    if (deps.isDraining() || deps.isFull()) {
      // Busy tone rather than a stream nobody will serve; Plivo ends the call politely.
      log.warn({ draining: deps.isDraining() }, 'refusing call: draining or at MAX_CALLS');
      deps.metrics.errors.inc({ kind: deps.isDraining() ? 'answer-while-draining' : 'answer-at-capacity' });
      reply.xml(200, rejectXml('busy'));
      return;
    }
    const ctx = await deps.router.onAnswer(info, baseContext(info));
    const token = mintTokenOrMinimal(deps, ctx);
    const publicUrl = deps.publicUrl();
    const xml = streamXml({
      url: `${publicUrl.replace(/^http/, 'ws')}/stream/${token}`,
      format: deps.streamFormat,
      statusCallbackUrl: `${publicUrl}/callbacks/stream-status`,
    });
    log.info({ direction: info.direction }, 'answered; stream XML sent');
    reply.xml(200, xml);
  });

  plivoWebhook(app, deps, ['post', 'get'], '/hangup', 'hangup', ({ params, reply }) => {
    const info = parseHangup(params);
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

  plivoWebhook(app, deps, ['post', 'get'], `${TRANSFER_PATH}/:token`, 'transfer-xml', ({ info, reply }) => {
    const token = info.path.slice(TRANSFER_PATH.length + 1);
    let target: { callId: string; target: string };
    try {
      target = verifyTransferToken(token, deps.config.plivo.streamTokenSecret);
    } catch (err) {
      deps.metrics.errors.inc({ kind: 'transfer-token' });
      deps.logger.warn({ err: errorMessage(err) }, 'transfer XML requested with a bad token');
      reply.text(403, 'invalid token');
      return;
    }
    callLogger(target.callId).info('transfer XML served');
    reply.xml(200, dialXml(target.target, deps.config.plivo.phoneNumber));
  });
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
