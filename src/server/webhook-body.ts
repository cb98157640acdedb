// One way to read a Plivo webhook: the parameters the handler sees are exactly the ones the V3 signature covers.
// Plivo signs the URL (its query included) plus, for a POST, the body parameters as key/value pairs. A form body is
// read as a form and a JSON body as a flat JSON object, and those same pairs are what the signature is checked
// over. A body in any other type, or JSON that is not a flat object, cannot be both verified and parsed, so it is
// refused. (Issue 15 D1: the signature used to be checked over the URL alone for JSON while the body was still
// parsed as a form, so body parameters escaped it.)
import { GatewayError } from '../errors.ts';
import type { SignedParams } from '../plivo/signature.ts';
import { parseForm, type RequestInfo } from './http.ts';

export class WebhookBodyError extends GatewayError {
  readonly status: 400 | 415;
  /** Short machine-readable reason, for metrics and the security log. */
  readonly reason: 'unsupported-content-type' | 'bad-json';
  constructor(status: 400 | 415, reason: WebhookBodyError['reason'], message: string) {
    super('GW_ERR_INVALID_ARGUMENT', message);
    this.name = 'WebhookBodyError';
    this.status = status;
    this.reason = reason;
  }
}

export interface SignedWebhook {
  /** Query parameters, then body parameters (a body value wins over a query value of the same name). */
  params: Record<string, string>;
  /** The body parameters as signed (duplicates kept): what the signature is checked over. */
  bodyPairs: SignedParams;
}

const FORM = 'application/x-www-form-urlencoded';

/** `type/subtype` of a Content-Type header, lower-cased, parameters dropped. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

function isJson(type: string): boolean {
  return type === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type);
}

/** Parses a webhook's parameters the way they were signed; throws WebhookBodyError for what cannot be. */
export function readSignedWebhook(info: RequestInfo, body: Buffer): SignedWebhook {
  const query = parseForm(info.query);
  // Only a POST has signed body parameters; a GET's are in its (signed) URL.
  if (info.method !== 'POST' || body.byteLength === 0) return { params: query, bodyPairs: [] };
  const type = mediaType(info.headers['content-type']);
  let pairs: Array<[string, string]>;
  if (type === FORM) {
    pairs = [...new URLSearchParams(body.toString('utf8'))];
  } else if (isJson(type)) {
    pairs = jsonPairs(body);
  } else {
    throw new WebhookBodyError(
      415,
      'unsupported-content-type',
      `webhook body must be ${FORM} or application/json (got ${type === '' ? 'no content type' : JSON.stringify(type.slice(0, 100))})`,
    );
  }
  const params = { ...query };
  for (const [k, v] of pairs) params[k] = v;
  return { params, bodyPairs: pairs };
}

function jsonPairs(body: Buffer): Array<[string, string]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new WebhookBodyError(400, 'bad-json', 'webhook JSON body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new WebhookBodyError(400, 'bad-json', 'webhook JSON body must be an object');
  }
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(parsed)) {
    // Plivo's signature covers key + value strings; a nested value has no agreed string form, so it cannot be verified.
    if (typeof v === 'string') pairs.push([k, v]);
    else if (typeof v === 'number' || typeof v === 'boolean') pairs.push([k, String(v)]);
    else
      throw new WebhookBodyError(
        400,
        'bad-json',
        `webhook JSON field ${JSON.stringify(k.slice(0, 64))} must be a string, number or boolean`,
      );
  }
  return pairs;
}
