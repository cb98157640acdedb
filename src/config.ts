// Configuration comes from the environment only, is validated once at start, and every problem is reported in
// one message. Everything downstream receives the typed, frozen `Config` and never reads process.env itself
// (the one exception is @google/genai, which reads its own GOOGLE_* variables; we never override those).
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { apiKeyCredentials, type GeminiCredential, vertexCredentials } from './gemini/credentials.ts';
import { voiceProblem } from './gemini/voices.ts';
import { type PriceTable, parsePriceTable } from './records/cost.ts';

const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
const num = (def: number, min: number, max: number) => z.coerce.number().min(min).max(max).default(def);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .pipe(z.url().optional());
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +14155550100');
const optionalE164 = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .pipe(e164.optional());

/**
 * Default OUTBOUND_BLOCKED_PREFIXES: numbers where the called party, not the carrier rate card, sets the price, so a
 * bad contact list (or a hostile one) turns into charges. Each entry is a prefix of the E.164 number.
 */
export const DEFAULT_BLOCKED_PREFIXES = [
  '+1900', // NANP 900: pay-per-call premium services (US/Canada).
  '+1976', // NANP 976: legacy premium-rate exchange, still used for pay-per-call and toll-fraud pumping.
  '+4409', // "+44 09…": a UK 09 premium number pasted with its trunk 0 kept; never valid, refused outright.
  '+4487', // UK 087 (0870-0873): service-charge numbers that share revenue with the called party (Ofcom).
  '+4490', // UK 090: premium-rate services (Ofcom; regulated by the PSA).
  '+4491', // UK 091: premium-rate services (Ofcom; regulated by the PSA).
  '+4498', // UK 098: adult premium-rate services (Ofcom).
  '+881', // Global Mobile Satellite System (Iridium, Globalstar…): very high per-minute rates.
  '+882', // International Networks (shared ITU code): high-cost, a classic IRSF (toll-fraud) destination.
  '+883', // International Networks (continuation of +882): same risk.
];

const sensitivity = z.enum(['HIGH', 'LOW']).optional();

export const envSchema = z.object({
  // Server
  SERVER_HOST: z.string().default('0.0.0.0'),
  SERVER_PORT: int(8000, 0, 65535),
  PUBLIC_URL: z.url({ message: 'must be the public https:// URL Plivo reaches this gateway at' }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SECURITY_LOG_PER_MIN: int(20, 1, 100_000),
  // Read by src/log.ts itself (the logger exists before the config); validated here so a typo is reported.
  LOG_PRETTY: bool(false),
  MAX_CALLS: int(5000, 1, 1_000_000),
  // Shed new calls while the event loop lags this much (p99 over a second); 0 = off (src/server/overload.ts).
  OVERLOAD_LOOP_DELAY_MS: int(250, 0, 60_000),
  DRAIN_TIMEOUT_S: int(300, 0, 86_400),
  DRAIN_MIGRATE: bool(true),
  DRAIN_MIGRATE_MARGIN_S: int(15, 1, 3600),
  MAX_WS_MESSAGE_BYTES: int(64 * 1024, 1024, 16 * 1024 * 1024),
  WS_MAX_BACKPRESSURE_BYTES: int(256 * 1024, 4096, 64 * 1024 * 1024),
  // V8's old-generation growth between full collections, fixed (src/main.ts); 0 leaves V8's own adaptive factor.
  V8_HEAP_GROWING_PERCENT: int(50, 0, 300),

  // Audio
  AUDIO_BACKEND: z.enum(['auto', 'native', 'ts']).default('auto'),
  AUDIO_EXECUTION: z.enum(['inline', 'pool']).default('inline'),
  AUDIO_POOL_THREADS: int(1, 1, 64),

  // Plivo
  PLIVO_AUTH_ID: z.string().min(1, 'is required (Plivo console → API keys)'),
  PLIVO_AUTH_TOKEN: z.string().min(1, 'is required (signs and verifies Plivo webhooks)'),
  PLIVO_PHONE_NUMBER: e164,
  PLIVO_API_BASE_URL: z.url().default('https://api.plivo.com'),
  PLIVO_AUTO_CONFIGURE: bool(false),
  PLIVO_VERIFY_SIGNATURES: bool(true),
  PLIVO_REQUEST_TIMEOUT_MS: int(5000, 100, 120_000),
  PLIVO_MAX_RETRIES: int(3, 0, 10),
  PLIVO_CPS: num(2, 0.1, 1000),
  // Agent audio kept ahead of real time at Plivo, and how much of it each top-up sends (src/plivo/pacer.ts).
  PLIVO_PLAYOUT_LEAD_MS: int(80, 40, 1000),
  PLIVO_PLAYOUT_BATCH_MS: int(40, 20, 500),
  STREAM_TOKEN_SECRET: optionalString,
  STREAM_TOKEN_TTL_S: int(300, 5, 86_400),
  WEBHOOK_NONCE_TTL_S: int(6 * 3600, 60, 7 * 86_400),

  // Gemini
  GEMINI_API_KEY: optionalString,
  GEMINI_API_KEYS: optionalString,
  GEMINI_MAX_SESSIONS_PER_CREDENTIAL: z.coerce.number().int().min(1).max(1_000_000).optional(),
  GEMINI_CREDENTIAL_COOLDOWN_S: int(60, 1, 86_400),
  GOOGLE_GENAI_USE_VERTEXAI: bool(false),
  GOOGLE_CLOUD_PROJECT: optionalString,
  GOOGLE_CLOUD_PROJECTS: optionalString,
  GOOGLE_CLOUD_LOCATION: optionalString,
  GEMINI_MODEL: z.string().min(1).default('gemini-2.5-flash-native-audio-preview-12-2025'),
  GEMINI_VOICE: z.string().min(1).default('Kore'),
  GEMINI_VOICE_ALLOW_UNLISTED: bool(false),
  GEMINI_VAD_START_SENSITIVITY: sensitivity,
  GEMINI_VAD_END_SENSITIVITY: sensitivity,
  GEMINI_VAD_PREFIX_PADDING_MS: z.coerce.number().int().min(0).max(10_000).optional(),
  GEMINI_VAD_SILENCE_DURATION_MS: z.coerce.number().int().min(0).max(10_000).optional(),
  GEMINI_COMPRESSION_TRIGGER_TOKENS: z.coerce.number().int().min(1000).optional(),
  GEMINI_UPLINK_CHUNK_MS: int(40, 20, 200),
  GEMINI_UPLINK_SILENCE_CHUNK_MS: int(200, 20, 1000),
  GEMINI_UPLINK_SILENCE_DBFS: num(-50, -90, -20),
  GEMINI_UPLINK_SILENCE_HANGOVER_MS: int(1000, 100, 10_000),
  GEMINI_PREBUFFER_MS: int(5000, 0, 60_000),
  GEMINI_CONNECT_TIMEOUT_MS: int(10_000, 500, 120_000),
  PROMPTS_DIR: optionalString,
  // The Python example's inline inbound prompt (shared/seed): when set, used instead of prompts/inbound.md.
  SYSTEM_PROMPT: optionalString,

  // Tools
  ORDER_API_URL: optionalUrl,
  TRANSFER_NUMBER: optionalE164,
  TOOL_TIMEOUT_MS: int(8000, 100, 120_000),

  // Outbound and state
  OUTBOUND_API_KEY: optionalString,
  // For numbers given without '+': a calling code ("1", "+44") or an ISO country ("US"). As in the Python example.
  DEFAULT_COUNTRY_CODE: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
    .pipe(
      z
        .string()
        .regex(/^(\+?[1-9]\d{0,2}|[A-Za-z]{2})$/, 'must be a calling code such as 1 or +44, or a country such as US')
        .optional(),
    ),
  STATE_STORE: z.enum(['memory', 'redis']).default('memory'),
  REDIS_URL: optionalUrl,
  CALL_RECORD_TTL_S: int(7 * 86_400, 60, 365 * 86_400),

  // Operator: post-call webhook, recordings, cost
  POST_CALL_WEBHOOK_URL: optionalUrl,
  POST_CALL_WEBHOOK_SECRET: optionalString,
  POST_CALL_WEBHOOK_MAX_ATTEMPTS: int(15, 1, 100),
  POST_CALL_WEBHOOK_BACKOFF_MS: int(2000, 10, 3_600_000),
  POST_CALL_WEBHOOK_MAX_BACKOFF_MS: int(900_000, 10, 86_400_000),
  POST_CALL_WEBHOOK_TIMEOUT_MS: int(10_000, 100, 120_000),
  WEBHOOK_REDACT_PII: bool(false),
  RECORDING: z.enum(['off', 'on']).default('off'),
  RECORDING_DIR: z.string().min(1).default('./recordings'),
  RECORDING_S3_BUCKET: optionalString,
  RECORDING_S3_ENDPOINT: optionalUrl,
  RECORDING_S3_REGION: z.string().min(1).default('us-east-1'),
  RECORDING_S3_ACCESS_KEY_ID: optionalString,
  RECORDING_S3_SECRET_ACCESS_KEY: optionalString,
  RECORDING_S3_PREFIX: z.string().default('recordings/'),
  PRICE_TABLE: optionalString,
  // Browser playground (GET /playground): off unless asked for; without a token one is generated at start.
  PLAYGROUND: bool(false),
  PLAYGROUND_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
    .pipe(z.string().min(16, 'must be at least 16 characters (it guards a free agent)').optional()),
  // Conversation: opening turn, voicemail, silent agent turns, filler while Gemini connects (src/calls, src/gemini)
  OUTBOUND_OPENING_SILENCE_MS: int(2500, 0, 30_000),
  OUTBOUND_OPENING_PAUSE_MS: int(600, 100, 5000),
  VOICEMAIL: z.enum(['hangup', 'message']).default('hangup'),
  GEMINI_FIRST_CONNECT_BUDGET_MS: int(9000, 1000, 120_000),
  FILLER_PROMPT_AFTER_MS: int(1500, 0, 30_000),
  SILENT_TURN_PEAK: int(200, 0, 32_767),
  // Where Plivo callbacks that could not be applied (store down) are kept until they can be (append-only file).
  OUTBOUND_SPOOL_DIR: z.string().trim().min(1).default('/tmp/gemini-plivo-gateway/spool'),
  // Destination prefixes never dialled (campaigns and single calls). Comma-separated E.164 prefixes; empty = none.
  OUTBOUND_BLOCKED_PREFIXES: z
    .string()
    .default(DEFAULT_BLOCKED_PREFIXES.join(','))
    .transform((v) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== ''),
    )
    .pipe(z.array(z.string().regex(/^\+[0-9]{1,14}$/, 'each prefix must look like +1900'))),
  // Kubernetes: keep controller.kubernetes.io/pod-deletion-cost at the active-call count (src/k8s/deletion-cost.ts).
  POD_DELETION_COST: z.enum(['auto', 'on', 'off']).default('auto'),
  POD_DELETION_COST_INTERVAL_S: int(15, 1, 3600),
  POD_NAME: optionalString,
  POD_NAMESPACE: optionalString,
  KUBERNETES_SERVICE_HOST: optionalString,
  KUBERNETES_SERVICE_PORT: z.coerce.number().int().min(1).max(65535).optional(),
});

/** Rules that join several variables; run on the raw environment so they are reported with the rest. */
function crossFieldProblems(env: NodeJS.ProcessEnv): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const vertex = ['true', '1', 'yes'].includes(env.GOOGLE_GENAI_USE_VERTEXAI ?? '');
  const problems: string[] = [];
  if (!vertex && !set('GEMINI_API_KEY') && !set('GEMINI_API_KEYS')) {
    problems.push('GEMINI_API_KEY: is required unless GOOGLE_GENAI_USE_VERTEXAI=true (not set)');
  }
  if (vertex && ((!set('GOOGLE_CLOUD_PROJECT') && !set('GOOGLE_CLOUD_PROJECTS')) || !set('GOOGLE_CLOUD_LOCATION'))) {
    problems.push(
      'GOOGLE_CLOUD_PROJECT: GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION are required with GOOGLE_GENAI_USE_VERTEXAI=true',
    );
  }
  if (env.STATE_STORE === 'redis' && !set('REDIS_URL')) {
    problems.push('REDIS_URL: is required with STATE_STORE=redis (not set)');
  }
  problems.push(...pythonSettingProblems(env));
  const insecure = insecurePublicUrl(env.PUBLIC_URL);
  if (insecure !== undefined) problems.push(`PUBLIC_URL: ${insecure}`);
  if (set('POST_CALL_WEBHOOK_URL') && (env.POST_CALL_WEBHOOK_SECRET ?? '').trim().length < 16) {
    problems.push('POST_CALL_WEBHOOK_SECRET: at least 16 characters are required with POST_CALL_WEBHOOK_URL');
  }
  if (set('RECORDING_S3_BUCKET') && (!set('RECORDING_S3_ACCESS_KEY_ID') || !set('RECORDING_S3_SECRET_ACCESS_KEY'))) {
    problems.push(
      'RECORDING_S3_ACCESS_KEY_ID: RECORDING_S3_ACCESS_KEY_ID and RECORDING_S3_SECRET_ACCESS_KEY are required with RECORDING_S3_BUCKET',
    );
  }
  if (set('PRICE_TABLE')) {
    try {
      parsePriceTable(env.PRICE_TABLE);
    } catch (err) {
      problems.push(`PRICE_TABLE: ${(err as Error).message}`);
    }
  }
  const voice = (env.GEMINI_VOICE ?? '').trim();
  const allowUnlisted = ['true', '1', 'yes'].includes(env.GEMINI_VOICE_ALLOW_UNLISTED ?? '');
  if (voice !== '') {
    const problem = voiceProblem(voice, allowUnlisted);
    if (problem !== undefined) problems.push(`GEMINI_VOICE: ${problem} (got ${JSON.stringify(voice)})`);
  }
  const lead = Number(env.PLIVO_PLAYOUT_LEAD_MS ?? 80);
  const batch = Number(env.PLIVO_PLAYOUT_BATCH_MS ?? 40);
  if (Number.isInteger(batch) && Number.isInteger(lead) && (batch % 20 !== 0 || batch >= lead)) {
    problems.push(
      `PLIVO_PLAYOUT_BATCH_MS: must be a multiple of 20 (one frame) and below PLIVO_PLAYOUT_LEAD_MS (got ${batch}, lead ${lead})`,
    );
  }
  const chunk = Number(env.GEMINI_UPLINK_CHUNK_MS ?? 40);
  const quiet = Number(env.GEMINI_UPLINK_SILENCE_CHUNK_MS ?? 200);
  if (Number.isInteger(chunk) && Number.isInteger(quiet) && quiet < chunk) {
    problems.push(
      `GEMINI_UPLINK_SILENCE_CHUNK_MS: must be at least GEMINI_UPLINK_CHUNK_MS (equal turns quiet chunks off; got ${quiet}, chunk ${chunk})`,
    );
  }
  problems.push(...placeholderProblems(env));
  return problems;
}

/**
 * Settings of the Python example (shared/seed) that this gateway does not take: each is refused at start with what
 * to set instead, so a .env written for the Python system never loses a setting silently. (SYSTEM_PROMPT and
 * DEFAULT_COUNTRY_CODE are taken as they were; every other name is the same in both.)
 */
export const PYTHON_SETTINGS_REFUSED: Readonly<Record<string, string>> = {
  VAD_CONFIDENCE:
    "the Python example's local VAD threshold has no equivalent here: turn detection is Gemini's automatic activity " +
    'detection; tune it with GEMINI_VAD_START_SENSITIVITY / GEMINI_VAD_END_SENSITIVITY (HIGH or LOW) and ' +
    'GEMINI_VAD_SILENCE_DURATION_MS, then remove VAD_CONFIDENCE',
};

function pythonSettingProblems(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(PYTHON_SETTINGS_REFUSED)
    .filter(([name]) => (env[name] ?? '').trim() !== '')
    .map(([name, use]) => `${name}: not used by this gateway: ${use}`);
}

function defaultCountry(v: string | undefined): Config['outbound']['defaultCountry'] {
  if (v === undefined) return undefined;
  return /^[A-Za-z]{2}$/.test(v) ? { country: v.toUpperCase() } : { callingCode: v.replace(/^\+/, '') };
}

/**
 * Plivo fetches webhooks and opens the stream over the public internet: anything but https/wss would carry the
 * call's audio and signed tokens in clear. Plain http is allowed only for a loopback host (emulators, the demo).
 */
function insecurePublicUrl(raw: string | undefined): string | undefined {
  let url: URL;
  try {
    url = new URL(raw ?? '');
  } catch {
    return undefined; // the schema reports the malformed URL
  }
  if (url.protocol === 'https:') return undefined;
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\./.test(url.hostname);
  if (url.protocol === 'http:' && loopback) return undefined;
  return `must be an https:// URL (got ${url.protocol}//${url.host}); plain http is accepted only for a loopback host, for local emulators`;
}

/**
 * Values that are still the examples of .env.example (or look like them): a copied .env must not start and say
 * "Ready" with them. Exact values per setting, plus shapes no real value has (your_…, *.example.com, a-long-random-string).
 */
export const PLACEHOLDERS: Readonly<Record<string, readonly string[]>> = {
  PLIVO_AUTH_ID: ['your_plivo_auth_id'],
  PLIVO_AUTH_TOKEN: ['your_plivo_auth_token'],
  PLIVO_PHONE_NUMBER: ['+15555550100'],
  PUBLIC_URL: ['https://your-public-host.example.com'],
  GEMINI_API_KEY: ['your_gemini_api_key'],
  GEMINI_API_KEYS: ['your_first_key,your_second_key'],
  GOOGLE_CLOUD_PROJECT: ['your-gcp-project'],
  STREAM_TOKEN_SECRET: ['a-long-random-string'],
  OUTBOUND_API_KEY: ['a-long-random-string'],
  TRANSFER_NUMBER: ['+15555550199'],
  ORDER_API_URL: ['https://orders.internal.example.com'],
};
const PLACEHOLDER_SHAPE = /^(your[_-]|<.*>$|changeme$|replace[_-]?me|xxx+)|a-long-random-string/i;
const PLACEHOLDER_SETTINGS = [
  ...Object.keys(PLACEHOLDERS),
  'GOOGLE_CLOUD_PROJECTS',
  'GOOGLE_CLOUD_LOCATION',
  'REDIS_URL',
  'PLIVO_API_BASE_URL',
] as const;

function placeholderProblems(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  for (const name of new Set(PLACEHOLDER_SETTINGS)) {
    const value = (env[name] ?? '').trim();
    if (value === '') continue;
    const listed = PLACEHOLDERS[name]?.includes(value) ?? false;
    const parts = value.split(',').map((v) => v.trim());
    if (listed || parts.some((v) => PLACEHOLDER_SHAPE.test(v) || exampleHost(v))) {
      problems.push(`${name}: is still a placeholder from .env.example; set the real value`);
    }
  }
  return problems;
}

/** RFC 2606 example domains: never a real endpoint. */
function exampleHost(value: string): boolean {
  if (!/^[a-z]+:\/\//i.test(value)) return false;
  try {
    return /(^|\.)example\.(com|org|net)$/i.test(new URL(value).hostname);
  } catch {
    return false;
  }
}

type Env = z.output<typeof envSchema>;

export interface Config {
  server: {
    host: string;
    port: number;
    /** Public base URL without a trailing slash, e.g. https://voice.example.com */
    publicUrl: string;
    logLevel: Env['LOG_LEVEL'];
    /** Warnings about refused unauthenticated requests, per reason per minute (the rest are counted). */
    securityLogPerMin: number;
    maxCalls: number;
    /** Event-loop delay (p99 over 1 s) above which new calls are refused; 0 = off. */
    overloadLoopDelayMs: number;
    drainTimeoutS: number;
    /** At DRAIN_TIMEOUT_S minus drainMigrateMarginS, calls still up move to a ready replica (Plivo transfer). */
    drainMigrate: boolean;
    drainMigrateMarginS: number;
    maxWsMessageBytes: number;
    wsMaxBackpressureBytes: number;
    /** V8's fixed old-generation growth factor, in per cent over the live heap; 0 = V8's adaptive one. */
    heapGrowingPercent: number;
  };
  audio: {
    backend: Env['AUDIO_BACKEND'];
    execution: Env['AUDIO_EXECUTION'];
    poolThreads: number;
  };
  plivo: {
    authId: string;
    authToken: string;
    phoneNumber: string;
    apiBaseUrl: string;
    autoConfigure: boolean;
    verifySignatures: boolean;
    requestTimeoutMs: number;
    maxRetries: number;
    cps: number;
    playoutLeadMs: number;
    playoutBatchMs: number;
    streamTokenSecret: string;
    streamTokenTtlS: number;
    /** How long a verified webhook's nonce is remembered (replays within it are refused). */
    nonceTtlS: number;
  };
  gemini: {
    /** The first credential's key (GEMINI_API_KEY, else the first of GEMINI_API_KEYS). */
    apiKey: string | undefined;
    /** Every credential, in order: API keys, or Vertex projects (src/gemini/credentials.ts). */
    credentials: readonly GeminiCredential[];
    /** Concurrent Live connections per credential (GEMINI_MAX_SESSIONS_PER_CREDENTIAL); undefined = no cap. */
    maxSessionsPerCredential: number | undefined;
    /** How long a credential is skipped after a quota close. */
    credentialCooldownMs: number;
    vertexai: boolean;
    project: string | undefined;
    location: string | undefined;
    model: string;
    voice: string;
    vad: {
      startSensitivity: 'HIGH' | 'LOW' | undefined;
      endSensitivity: 'HIGH' | 'LOW' | undefined;
      prefixPaddingMs: number | undefined;
      silenceDurationMs: number | undefined;
    };
    compressionTriggerTokens: number | undefined;
    uplinkChunkMs: number;
    /**
     * Quiet uplink: once the caller has been quieter than `dbfs` for `hangoverMs`, caller audio goes out in chunks
     * of `chunkMs` instead of uplinkChunkMs; the first loud frame flushes at once. chunkMs === uplinkChunkMs: off.
     */
    uplinkSilence: { chunkMs: number; dbfs: number; hangoverMs: number };
    prebufferMs: number;
    connectTimeoutMs: number;
    promptsDir: string | undefined;
    /** SYSTEM_PROMPT: inline inbound prompt text, in place of prompts/inbound.md. */
    inboundPromptText: string | undefined;
  };
  tools: {
    orderApiUrl: string | undefined;
    transferNumber: string | undefined;
    timeoutMs: number;
  };
  outbound: {
    apiKey: string | undefined;
    /** Plivo callbacks that could not be applied are kept here until the store is back. */
    spoolDir: string;
    /** E.164 prefixes never dialled. */
    blockedPrefixes: readonly string[];
    /** DEFAULT_COUNTRY_CODE, for numbers given without '+': `{ callingCode: '44' }` or `{ country: 'US' }`. */
    defaultCountry: { callingCode: string } | { country: string } | undefined;
  };
  store: {
    kind: 'memory' | 'redis';
    redisUrl: string | undefined;
    recordTtlS: number;
  };
  operator: {
    webhook:
      | {
          url: string;
          secret: string;
          maxAttempts: number;
          backoffMs: number;
          maxBackoffMs: number;
          timeoutMs: number;
        }
      | undefined;
    redactPii: boolean;
    recording: {
      enabled: boolean;
      /** Local recordings, and recordings in progress. */
      dir: string;
      s3:
        | {
            bucket: string;
            endpoint: string | undefined;
            region: string;
            accessKeyId: string;
            secretAccessKey: string;
            prefix: string;
          }
        | undefined;
    };
    prices: PriceTable;
  };
  playground: {
    /** PLAYGROUND=true mounts GET /playground (src/playground). */
    enabled: boolean;
    /** PLAYGROUND_TOKEN; when unset a random one is generated at start and logged. */
    token: string | undefined;
  };
  conversation: {
    /** Outbound: send the opening turn after this much silence since the stream started, if the callee said nothing. */
    openingSilenceMs: number;
    /** Outbound: …or once the callee spoke ("Hello?") and then paused this long. */
    openingPauseMs: number;
    /** Machine detection said machine: hang up, or leave prompts/voicemail.md and then hang up. */
    voicemail: 'hangup' | 'message';
    /** Time for the first Gemini connection of a call, all attempts included, before the apology prompt. */
    firstConnectBudgetMs: number;
    /** Play the filler prompt when Gemini is not ready this long after the stream started (0 = never). */
    fillerAfterMs: number;
    /** An agent turn whose audio never goes above this PCM16 peak counts as silent. */
    silentTurnPeak: number;
  };
  kubernetes: {
    /** auto: on when running in a pod with an API token (KUBERNETES_SERVICE_HOST, POD_NAME); off elsewhere. */
    deletionCost: 'auto' | 'on' | 'off';
    deletionCostIntervalMs: number;
    podName: string | undefined;
    podNamespace: string | undefined;
    apiHost: string | undefined;
    apiPort: number | undefined;
  };
}

/** Parse and validate the environment. Throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const value = env[String(issue.path[0])];
        if (value === undefined && issue.code === 'invalid_type') return `${name}: is required (not set)`;
        const shown = value === undefined ? 'not set' : `got ${JSON.stringify(redactIfSecret(name, value))}`;
        return `${name}: ${issue.message} (${shown})`;
      });
  problems.push(...crossFieldProblems(env));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const keys = commaList(e.GEMINI_API_KEY, e.GEMINI_API_KEYS);
  const projects = commaList(e.GOOGLE_CLOUD_PROJECT, e.GOOGLE_CLOUD_PROJECTS);
  const config: Config = {
    server: {
      host: e.SERVER_HOST,
      port: e.SERVER_PORT,
      publicUrl: e.PUBLIC_URL.replace(/\/+$/, ''),
      logLevel: e.LOG_LEVEL,
      securityLogPerMin: e.SECURITY_LOG_PER_MIN,
      maxCalls: e.MAX_CALLS,
      overloadLoopDelayMs: e.OVERLOAD_LOOP_DELAY_MS,
      drainTimeoutS: e.DRAIN_TIMEOUT_S,
      drainMigrate: e.DRAIN_MIGRATE,
      drainMigrateMarginS: e.DRAIN_MIGRATE_MARGIN_S,
      maxWsMessageBytes: e.MAX_WS_MESSAGE_BYTES,
      wsMaxBackpressureBytes: e.WS_MAX_BACKPRESSURE_BYTES,
      heapGrowingPercent: e.V8_HEAP_GROWING_PERCENT,
    },
    audio: { backend: e.AUDIO_BACKEND, execution: e.AUDIO_EXECUTION, poolThreads: e.AUDIO_POOL_THREADS },
    plivo: {
      authId: e.PLIVO_AUTH_ID,
      authToken: e.PLIVO_AUTH_TOKEN,
      phoneNumber: e.PLIVO_PHONE_NUMBER,
      apiBaseUrl: e.PLIVO_API_BASE_URL.replace(/\/+$/, ''),
      autoConfigure: e.PLIVO_AUTO_CONFIGURE,
      verifySignatures: e.PLIVO_VERIFY_SIGNATURES,
      requestTimeoutMs: e.PLIVO_REQUEST_TIMEOUT_MS,
      maxRetries: e.PLIVO_MAX_RETRIES,
      cps: e.PLIVO_CPS,
      playoutLeadMs: e.PLIVO_PLAYOUT_LEAD_MS,
      playoutBatchMs: e.PLIVO_PLAYOUT_BATCH_MS,
      // Separate secret recommended; falling back to the auth token keeps single-secret setups working.
      streamTokenSecret: e.STREAM_TOKEN_SECRET ?? e.PLIVO_AUTH_TOKEN,
      streamTokenTtlS: e.STREAM_TOKEN_TTL_S,
      nonceTtlS: e.WEBHOOK_NONCE_TTL_S,
    },
    gemini: {
      apiKey: keys[0],
      credentials: e.GOOGLE_GENAI_USE_VERTEXAI
        ? vertexCredentials(projects, e.GOOGLE_CLOUD_LOCATION)
        : apiKeyCredentials(keys),
      maxSessionsPerCredential: e.GEMINI_MAX_SESSIONS_PER_CREDENTIAL,
      credentialCooldownMs: e.GEMINI_CREDENTIAL_COOLDOWN_S * 1000,
      vertexai: e.GOOGLE_GENAI_USE_VERTEXAI,
      project: projects[0],
      location: e.GOOGLE_CLOUD_LOCATION,
      model: e.GEMINI_MODEL,
      voice: e.GEMINI_VOICE,
      vad: {
        startSensitivity: e.GEMINI_VAD_START_SENSITIVITY,
        endSensitivity: e.GEMINI_VAD_END_SENSITIVITY,
        prefixPaddingMs: e.GEMINI_VAD_PREFIX_PADDING_MS,
        silenceDurationMs: e.GEMINI_VAD_SILENCE_DURATION_MS,
      },
      compressionTriggerTokens: e.GEMINI_COMPRESSION_TRIGGER_TOKENS,
      uplinkChunkMs: e.GEMINI_UPLINK_CHUNK_MS,
      uplinkSilence: {
        chunkMs: e.GEMINI_UPLINK_SILENCE_CHUNK_MS,
        dbfs: e.GEMINI_UPLINK_SILENCE_DBFS,
        // Never shorter than the end-of-speech silence asked of Gemini (plus a chunk): the silence that ends a
        // caller's turn must reach it in short chunks, or the turn would end up to one quiet chunk late.
        hangoverMs: Math.max(
          e.GEMINI_UPLINK_SILENCE_HANGOVER_MS,
          (e.GEMINI_VAD_SILENCE_DURATION_MS ?? 0) + e.GEMINI_UPLINK_CHUNK_MS,
        ),
      },
      prebufferMs: e.GEMINI_PREBUFFER_MS,
      connectTimeoutMs: e.GEMINI_CONNECT_TIMEOUT_MS,
      promptsDir: e.PROMPTS_DIR,
      inboundPromptText: e.SYSTEM_PROMPT,
    },
    tools: { orderApiUrl: e.ORDER_API_URL, transferNumber: e.TRANSFER_NUMBER, timeoutMs: e.TOOL_TIMEOUT_MS },
    outbound: {
      apiKey: e.OUTBOUND_API_KEY,
      spoolDir: e.OUTBOUND_SPOOL_DIR,
      blockedPrefixes: e.OUTBOUND_BLOCKED_PREFIXES,
      defaultCountry: defaultCountry(e.DEFAULT_COUNTRY_CODE),
    },
    store: { kind: e.STATE_STORE, redisUrl: e.REDIS_URL, recordTtlS: e.CALL_RECORD_TTL_S },
    operator: {
      webhook: e.POST_CALL_WEBHOOK_URL
        ? {
            url: e.POST_CALL_WEBHOOK_URL,
            secret: e.POST_CALL_WEBHOOK_SECRET!,
            maxAttempts: e.POST_CALL_WEBHOOK_MAX_ATTEMPTS,
            backoffMs: e.POST_CALL_WEBHOOK_BACKOFF_MS,
            maxBackoffMs: e.POST_CALL_WEBHOOK_MAX_BACKOFF_MS,
            timeoutMs: e.POST_CALL_WEBHOOK_TIMEOUT_MS,
          }
        : undefined,
      redactPii: e.WEBHOOK_REDACT_PII,
      recording: {
        enabled: e.RECORDING === 'on',
        dir: e.RECORDING_DIR,
        s3: e.RECORDING_S3_BUCKET
          ? {
              bucket: e.RECORDING_S3_BUCKET,
              endpoint: e.RECORDING_S3_ENDPOINT,
              region: e.RECORDING_S3_REGION,
              accessKeyId: e.RECORDING_S3_ACCESS_KEY_ID!,
              secretAccessKey: e.RECORDING_S3_SECRET_ACCESS_KEY!,
              prefix: e.RECORDING_S3_PREFIX,
            }
          : undefined,
      },
      prices: parsePriceTable(e.PRICE_TABLE),
    },
    playground: { enabled: e.PLAYGROUND, token: e.PLAYGROUND_TOKEN },
    conversation: {
      openingSilenceMs: e.OUTBOUND_OPENING_SILENCE_MS,
      openingPauseMs: e.OUTBOUND_OPENING_PAUSE_MS,
      voicemail: e.VOICEMAIL,
      firstConnectBudgetMs: e.GEMINI_FIRST_CONNECT_BUDGET_MS,
      fillerAfterMs: e.FILLER_PROMPT_AFTER_MS,
      silentTurnPeak: e.SILENT_TURN_PEAK,
    },
    kubernetes: {
      deletionCost: e.POD_DELETION_COST,
      deletionCostIntervalMs: e.POD_DELETION_COST_INTERVAL_S * 1000,
      podName: e.POD_NAME,
      podNamespace: e.POD_NAMESPACE,
      apiHost: e.KUBERNETES_SERVICE_HOST,
      apiPort: e.KUBERNETES_SERVICE_PORT,
    },
  };
  return deepFreeze(config);
}

/** `first` then the comma-separated `list`, trimmed, empty entries and repeats dropped. */
function commaList(first: string | undefined, list: string | undefined): string[] {
  const all = [first ?? '', ...(list ?? '').split(',')].map((v) => v.trim()).filter((v) => v !== '');
  return [...new Set(all)];
}

function redactIfSecret(name: string, value: string): string {
  return /TOKEN|KEY|SECRET|PASSWORD/.test(name) ? '<redacted>' : value;
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
}
