// Small helpers for HTTP on uWebSockets.js, which has no framework layer. uWS rules that shape this file:
// - `req` is valid only inside the synchronous handler: copy headers/URL/query out before any await;
// - `res` must get an onAborted handler before any async work, and must not be touched after abort;
// - async replies are written inside `res.cork()` so headers and body leave in one syscall.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

export interface RequestInfo {
  method: string;
  /** Path without the query string. */
  path: string;
  query: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
}

/** Copies what we need out of `req` (it dies when the handler returns). */
export function requestInfo(req: HttpRequest): RequestInfo {
  const headers: Record<string, string> = {};
  req.forEach((k, v) => {
    headers[k] = v;
  });
  return {
    method: req.getCaseSensitiveMethod().toUpperCase(),
    path: req.getUrl(),
    query: req.getQuery() ?? '',
    headers,
  };
}

/** Tracks abort so that late replies are dropped instead of crashing on a dead `res`. */
export class Reply {
  readonly res: HttpResponse;
  aborted = false;
  done = false;
  /** Status of the reply sent (0 until then), for request metrics. */
  status = 0;
  private readonly abortHandlers: Array<() => void> = [];

  constructor(res: HttpResponse) {
    this.res = res;
    res.onAborted(() => {
      this.aborted = true;
      for (const h of this.abortHandlers) h();
    });
  }

  onAbort(handler: () => void): void {
    this.abortHandlers.push(handler);
  }

  send(status: number, body: string | Uint8Array, contentType: string, headers: Record<string, string> = {}): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.status = status;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status)).writeHeader('content-type', contentType);
      for (const [k, v] of Object.entries(headers)) this.res.writeHeader(k, v);
      this.res.end(body);
    });
  }

  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.send(status, JSON.stringify(body), 'application/json', headers);
  }

  text(status: number, body: string, headers: Record<string, string> = {}): void {
    this.send(status, body, 'text/plain; charset=utf-8', headers);
  }

  xml(status: number, body: string): void {
    this.send(status, body, 'application/xml');
  }

  empty(status: number): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.status = status;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status)).end();
    });
  }
}

export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Reads the whole body, up to `limit` bytes. Must be called synchronously inside the handler (uWS delivers data
 * only to an onData registered before the handler returns). Rejects with BodyTooLargeError past the limit, or
 * with an Error if the client aborts.
 */
export function readBody(reply: Reply, limit = 64 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    reply.onAbort(() => {
      if (!failed) reject(new Error('request aborted'));
      failed = true;
    });
    reply.res.onData((chunk, isLast) => {
      if (failed) return;
      size += chunk.byteLength;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLargeError(limit));
        return;
      }
      // The chunk's memory is reused by uWS after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
  });
}

/** Parses an application/x-www-form-urlencoded body or query string into a flat record (last value wins). */
export function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}

/**
 * Parameters of a request, whatever way they came: query string, form body or JSON body (JSON object values are
 * kept as they are; callers validate with zod). Throws SyntaxError on malformed JSON.
 */
export function parseParams(info: RequestInfo, body: Buffer): Record<string, unknown> {
  const params: Record<string, unknown> = parseForm(info.query);
  if (body.byteLength === 0) return params;
  const type = info.headers['content-type'] ?? '';
  if (type.includes('application/json')) {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new SyntaxError('JSON body must be an object');
    }
    return { ...params, ...(parsed as Record<string, unknown>) };
  }
  return { ...params, ...parseForm(body.toString('utf8')) };
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Status'}`;
}
