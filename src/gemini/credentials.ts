// Several Gemini credentials (API keys, or Vertex projects) with a concurrent-session cap each. Limits are per
// project and tier (research gemini-live.md §2.6: Vertex documents 1,000 concurrent sessions per project; the
// Developer API closes with 1011 "You exceeded your current quota…" when a quota runs out, kazunori279/interpretab#13),
// so one busy gateway may need more than one. Every Live connection takes a lease on one credential and gives it
// back when the connection ends; a quota close puts that credential in a cool-down and new connections go to the
// next one. A reconnect is a new connection, so a call whose connection was closed for quota moves too.
//
// No SDK import here: /metrics reads the state below at scrape time (src/server/metrics.ts).
import { createHash } from 'node:crypto';
import { GatewayError } from '../errors.ts';

export interface GeminiCredential {
  /** Position in the configured list, from 0. */
  readonly index: number;
  /** For logs and metric labels: position (from 1) and a short hash; never the key itself. */
  readonly label: string;
  readonly vertexai: boolean;
  readonly apiKey: string | undefined;
  readonly project: string | undefined;
  readonly location: string | undefined;
}

/** `2-3fa9c1`: the credential's position from 1 and the first 6 hex digits of a SHA-256 of the key or project. */
export function credentialLabel(index: number, secret: string): string {
  return `${index + 1}-${createHash('sha256').update(secret).digest('hex').slice(0, 6)}`;
}

export function apiKeyCredentials(keys: readonly string[]): GeminiCredential[] {
  return keys.map((apiKey, index) => ({
    index,
    label: credentialLabel(index, apiKey),
    vertexai: false,
    apiKey,
    project: undefined,
    location: undefined,
  }));
}

export function vertexCredentials(projects: readonly string[], location: string | undefined): GeminiCredential[] {
  return projects.map((project, index) => ({
    index,
    label: credentialLabel(index, project),
    vertexai: true,
    apiKey: undefined,
    project,
    location,
  }));
}

export interface CredentialPoolOptions {
  /** Concurrent connections per credential; undefined = no cap. */
  maxSessions: number | undefined;
  /** How long a credential is skipped after a quota close. */
  cooldownMs: number;
  now?: () => number;
}

/** What /metrics shows per credential (process-wide, by label). */
export interface CredentialStats {
  label: string;
  open: number;
  cap: number | undefined;
  coolingUntil: number;
  quotaCloses: number;
  connections: number;
}

/** Every credential any pool in this process has used, by label. */
export const credentialStats = new Map<string, CredentialStats>();

export interface CredentialLease {
  readonly credential: GeminiCredential;
  /** The connection ended (idempotent). A quota close puts the credential in its cool-down. */
  end(code?: number | undefined, reason?: string | undefined): void;
}

const QUOTA = /exceeded your current quota|quota/i;

export class CredentialPool {
  readonly credentials: readonly GeminiCredential[];
  private readonly opts: CredentialPoolOptions;
  private readonly now: () => number;
  private readonly stats: CredentialStats[];

  constructor(credentials: readonly GeminiCredential[], opts: CredentialPoolOptions) {
    if (credentials.length === 0) throw new GatewayError('GW_ERR_CONFIG', 'no Gemini credential configured');
    this.credentials = credentials;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.stats = credentials.map((c) => {
      let s = credentialStats.get(c.label);
      if (s === undefined) {
        s = { label: c.label, open: 0, cap: opts.maxSessions, coolingUntil: 0, quotaCloses: 0, connections: 0 };
        credentialStats.set(c.label, s);
      }
      s.cap = opts.maxSessions;
      return s;
    });
  }

  /**
   * The credential for a new connection: the least busy one that is neither cooling down nor at its cap (ties go
   * to the first listed). When every one is cooling down, the one whose cool-down ends first (refusing outright
   * would fail calls that the service may well accept). Throws a retryable error when every one is at its cap.
   */
  acquire(): CredentialLease {
    const now = this.now();
    const cap = this.opts.maxSessions ?? Number.POSITIVE_INFINITY;
    let pick = -1;
    let fallback = -1;
    for (let i = 0; i < this.stats.length; i++) {
      const s = this.stats[i]!;
      if (s.open >= cap) continue;
      if (s.coolingUntil > now) {
        if (fallback < 0 || s.coolingUntil < this.stats[fallback]!.coolingUntil) fallback = i;
        continue;
      }
      if (pick < 0 || s.open < this.stats[pick]!.open) pick = i;
    }
    if (pick < 0) pick = fallback;
    if (pick < 0) {
      throw new GatewayError(
        'GW_ERR_GEMINI',
        `every Gemini credential is at GEMINI_MAX_SESSIONS_PER_CREDENTIAL (${this.opts.maxSessions})`,
        { retryable: true, detail: { credentials: this.stats.length } },
      );
    }
    const s = this.stats[pick]!;
    s.open++;
    s.connections++;
    let ended = false;
    return {
      credential: this.credentials[pick]!,
      end: (code, reason) => {
        if (ended) return;
        ended = true;
        s.open--;
        if (code === 1011 && QUOTA.test(reason ?? '')) {
          s.quotaCloses++;
          s.coolingUntil = this.now() + this.opts.cooldownMs;
        }
      },
    };
  }

  /** Credentials usable right now (not cooling, under the cap). */
  available(): number {
    const now = this.now();
    const cap = this.opts.maxSessions ?? Number.POSITIVE_INFINITY;
    return this.stats.filter((s) => s.coolingUntil <= now && s.open < cap).length;
  }
}

const pools = new Map<string, CredentialPool>();

/** The process-wide pool for these settings (one per distinct credential list, like the SDK clients). */
export function credentialPool(config: {
  credentials: readonly GeminiCredential[];
  maxSessionsPerCredential: number | undefined;
  credentialCooldownMs: number;
}): CredentialPool {
  const key = JSON.stringify([
    config.credentials.map((c) => c.label),
    config.maxSessionsPerCredential,
    config.credentialCooldownMs,
  ]);
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = new CredentialPool(config.credentials, {
      maxSessions: config.maxSessionsPerCredential,
      cooldownMs: config.credentialCooldownMs,
    });
    pools.set(key, pool);
  }
  return pool;
}

/** Tests: forget pools and their stats. */
export function resetCredentialPools(): void {
  pools.clear();
  credentialStats.clear();
}
