// HTTP and WebSocket routes of the browser playground (mounted only with PLAYGROUND=true; see src/playground):
//   GET  /playground?token=…            the page
//   GET  /playground/assets/<file>      its scripts (public code, no secrets)
//   GET  /playground/api/options        voices and defaults              (Authorization: Bearer <token>)
//   POST /playground/api/calls          mints a playground call          (Authorization: Bearer <token>)
//   WS   /playground/events/<callId>?token=…  call events for the page (transcripts, tools, phone, latency marks)
// The page then opens the ordinary Plivo stream route `/stream/<stream token>` with the URL it was given.

import type { TemplatedApp } from 'uWebSockets.js';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { errorMessage, GatewayError } from '../errors.ts';
import type { GatewayDeps, RouteModule } from '../server/deps.ts';
import { BodyTooLargeError, parseForm, Reply, readBody, requestInfo, statusLine } from '../server/http.ts';
import { PLAYGROUND_VOICES, type Playground } from './index.ts';

const ASSETS_DIR = new URL('../playground/public/', import.meta.url);
const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'mic-worklet.js': 'text/javascript; charset=utf-8',
  'player-worklet.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

// The page loads only its own scripts and talks only to its own origin (ws: and wss: for the sockets).
const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

interface EventsSocketData {
  callId: string;
  detach: (() => void) | undefined;
  closed: boolean;
}

export function playgroundRoute(playground: Playground): RouteModule {
  return (app: TemplatedApp, deps: GatewayDeps) => mountPlayground(app, deps, playground);
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

function mountPlayground(app: TemplatedApp, deps: GatewayDeps, pg: Playground): void {
  // Read once: the assets are part of the release, and a missing one should fail at start, not per request.
  const page = readFileSync(new URL('index.html', ASSETS_DIR), 'utf8');
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(ASSETS))
    assets.set(name, { body: readFileSync(new URL(name, ASSETS_DIR)), type });

  const denied = (reply: Reply) => {
    deps.metrics.errors.inc({ kind: 'playground-token' });
    reply.text(401, 'playground token required: open the /playground URL printed in the gateway start log');
  };

  app.get('/playground', (res, req) => {
    const reply = new Reply(res);
    const token = parseForm(req.getQuery() ?? '').token;
    if (!pg.checkToken(token)) return denied(reply);
    reply.send(200, page, 'text/html; charset=utf-8', PAGE_HEADERS);
  });

  app.get('/playground/assets/:name', (res, req) => {
    const reply = new Reply(res);
    const asset = assets.get(req.getParameter(0) ?? '');
    if (!asset) return reply.text(404, 'not found');
    reply.send(200, asset.body, asset.type, { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  });

  app.get('/playground/api/options', (res, req) => {
    const reply = new Reply(res);
    if (!pg.checkToken(bearer(req.getHeader('authorization')))) return denied(reply);
    reply.json(200, {
      voices: PLAYGROUND_VOICES,
      defaultVoice: deps.config.gemini.voice,
      prompts: ['inbound', 'outbound'],
      transferConfigured: deps.config.tools.transferNumber !== undefined,
    });
  });

  app.post('/playground/api/calls', (res, req) => {
    const reply = new Reply(res);
    const info = requestInfo(req);
    if (!pg.checkToken(bearer(info.headers.authorization))) return denied(reply);
    readBody(reply, 4096)
      .then((body) => {
        if (deps.isDraining()) return reply.json(503, { error: 'the gateway is draining' });
        if (deps.isFull()) return reply.json(503, { error: 'the gateway is at MAX_CALLS' });
        if (deps.isOverloaded()) return reply.json(503, { error: 'the gateway is overloaded; try again shortly' });
        const raw: unknown = body.byteLength === 0 ? {} : JSON.parse(body.toString('utf8'));
        reply.json(201, pg.mint(raw));
      })
      .catch((err: unknown) => {
        if (err instanceof BodyTooLargeError) return reply.json(413, { error: err.message });
        if (err instanceof SyntaxError) return reply.json(400, { error: 'body must be JSON' });
        if (err instanceof z.ZodError) {
          return reply.json(400, { error: err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`) });
        }
        if (err instanceof GatewayError && (err.detail as { status?: number } | undefined)?.status === 429) {
          return reply.json(429, { error: err.message });
        }
        deps.logger.warn({ err: errorMessage(err) }, 'playground call not minted');
        reply.json(500, { error: 'could not create the playground call' });
      });
  });

  app.ws<EventsSocketData>('/playground/events/:callId', {
    maxPayloadLength: 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    compression: 0,
    upgrade: (res, req, context) => {
      const callId = req.getParameter(0) ?? '';
      const token = parseForm(req.getQuery() ?? '').token;
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      if (!pg.checkToken(token)) {
        deps.metrics.errors.inc({ kind: 'playground-token' });
        res.cork(() => res.writeStatus(statusLine(401)).end('playground token required', true));
        return;
      }
      res.upgrade<EventsSocketData>({ callId, detach: undefined, closed: false }, key, protocol, extensions, context);
    },
    open: (ws) => {
      const data = ws.getUserData();
      data.detach = pg.attachEvents(data.callId, (m) => {
        if (!data.closed) ws.send(m, false, false);
      });
      if (!data.detach) ws.end(4404, 'unknown playground call');
    },
    // The events socket is one-way (server → page); the page hangs up on the media socket, as a phone would.
    message: () => {},
    close: (ws) => {
      const data = ws.getUserData();
      data.closed = true;
      data.detach?.();
    },
  });
}
