// Typed errors. Every error that crosses a module boundary is a GatewayError with a stable `code`, the call it
// belongs to (when there is one) and whether retrying could help. `instanceof` is backed by a Symbol.for brand so
// that it survives duplicate copies of this module (e.g. in piscina workers).

const kGatewayError = Symbol.for('gemini-plivo-gateway.error');

export type ErrorCode =
  | 'GW_ERR_CONFIG'
  | 'GW_ERR_INVALID_ARGUMENT'
  | 'GW_ERR_INVALID_STATE'
  | 'GW_ERR_AUDIO'
  | 'GW_ERR_NATIVE_UNAVAILABLE'
  | 'GW_ERR_PLIVO_PROTOCOL'
  | 'GW_ERR_PLIVO_SIGNATURE'
  | 'GW_ERR_STREAM_TOKEN'
  | 'GW_ERR_PLIVO_API'
  | 'GW_ERR_GEMINI'
  | 'GW_ERR_GEMINI_CLOSED'
  | 'GW_ERR_TOOL'
  | 'GW_ERR_TOOL_TIMEOUT'
  | 'GW_ERR_STORE'
  | 'GW_ERR_NOT_FOUND'
  | 'GW_ERR_KUBERNETES_API'
  | 'GW_ERR_TIMEOUT';

export interface GatewayErrorOptions {
  callId?: string | undefined;
  retryable?: boolean;
  cause?: unknown;
  /** Extra structured detail for logs (never secrets or audio). */
  detail?: Record<string, unknown>;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly callId: string | undefined;
  readonly retryable: boolean;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.callId = options.callId;
    this.retryable = options.retryable ?? false;
    this.detail = options.detail;
    Object.defineProperty(this, kGatewayError, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kGatewayError] === true;
  }

  /** A log-friendly view (pino serialises this under `err`). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      callId: this.callId,
      retryable: this.retryable,
      detail: this.detail,
    };
  }
}

/** Raised when configuration is invalid; the message lists every problem at once. */
export class ConfigError extends GatewayError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('GW_ERR_CONFIG', `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Use after close(), or any call made in a state that does not allow it. */
export class InvalidStateError extends GatewayError {
  constructor(message: string, options: GatewayErrorOptions = {}) {
    super('GW_ERR_INVALID_STATE', message, options);
    this.name = 'InvalidStateError';
  }
}

/** Plivo's REST API answered with an error or could not be reached. */
export class PlivoApiError extends GatewayError {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, options: GatewayErrorOptions = {}) {
    super('GW_ERR_PLIVO_API', message, { ...options, retryable: options.retryable ?? isRetryableStatus(status) });
    this.name = 'PlivoApiError';
    this.status = status;
  }
}

/** The one place that decides whether an HTTP status is worth retrying. */
export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true; // network error or timeout
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
