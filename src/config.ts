// Configuration comes from the environment only, is validated once at start, and every problem is reported in
// one message. Everything downstream receives the typed, frozen `Config` and never reads process.env itself
// (the one exception is @google/genai, which reads its own GOOGLE_* variables; we never override those).
import { z } from 'zod';
import { ConfigError } from './errors.ts';

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

const sensitivity = z.enum(['HIGH', 'LOW']).optional();

export const envSchema = z.object({
  // Server
  SERVER_HOST: z.string().default('0.0.0.0'),
  SERVER_PORT: int(8000, 0, 65535),
  PUBLIC_URL: z.url({ message: 'must be the public https:// URL Plivo reaches this gateway at' }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MAX_CALLS: int(5000, 1, 1_000_000),
  DRAIN_TIMEOUT_S: int(300, 0, 86_400),
  MAX_WS_MESSAGE_BYTES: int(64 * 1024, 1024, 16 * 1024 * 1024),
  WS_MAX_BACKPRESSURE_BYTES: int(256 * 1024, 4096, 64 * 1024 * 1024),

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
  STREAM_TOKEN_SECRET: optionalString,
  STREAM_TOKEN_TTL_S: int(300, 5, 86_400),

  // Gemini
  GEMINI_API_KEY: optionalString,
  GOOGLE_GENAI_USE_VERTEXAI: bool(false),
  GOOGLE_CLOUD_PROJECT: optionalString,
  GOOGLE_CLOUD_LOCATION: optionalString,
  GEMINI_MODEL: z.string().min(1).default('gemini-2.5-flash-native-audio-preview-12-2025'),
  GEMINI_VOICE: z.string().min(1).default('Kore'),
  GEMINI_VAD_START_SENSITIVITY: sensitivity,
  GEMINI_VAD_END_SENSITIVITY: sensitivity,
  GEMINI_VAD_PREFIX_PADDING_MS: z.coerce.number().int().min(0).max(10_000).optional(),
  GEMINI_VAD_SILENCE_DURATION_MS: z.coerce.number().int().min(0).max(10_000).optional(),
  GEMINI_COMPRESSION_TRIGGER_TOKENS: z.coerce.number().int().min(1000).optional(),
  GEMINI_UPLINK_CHUNK_MS: int(40, 20, 200),
  GEMINI_PREBUFFER_MS: int(5000, 0, 60_000),
  GEMINI_CONNECT_TIMEOUT_MS: int(10_000, 500, 120_000),
  PROMPTS_DIR: optionalString,

  // Tools
  ORDER_API_URL: optionalUrl,
  TRANSFER_NUMBER: optionalE164,
  TOOL_TIMEOUT_MS: int(8000, 100, 120_000),

  // Outbound and state
  OUTBOUND_API_KEY: optionalString,
  STATE_STORE: z.enum(['memory', 'redis']).default('memory'),
  REDIS_URL: optionalUrl,
  CALL_RECORD_TTL_S: int(7 * 86_400, 60, 365 * 86_400),
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
  if (!vertex && !set('GEMINI_API_KEY')) {
    problems.push('GEMINI_API_KEY: is required unless GOOGLE_GENAI_USE_VERTEXAI=true (not set)');
  }
  if (vertex && (!set('GOOGLE_CLOUD_PROJECT') || !set('GOOGLE_CLOUD_LOCATION'))) {
    problems.push(
      'GOOGLE_CLOUD_PROJECT: GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION are required with GOOGLE_GENAI_USE_VERTEXAI=true',
    );
  }
  if (env.STATE_STORE === 'redis' && !set('REDIS_URL')) {
    problems.push('REDIS_URL: is required with STATE_STORE=redis (not set)');
  }
  return problems;
}

type Env = z.output<typeof envSchema>;

export interface Config {
  server: {
    host: string;
    port: number;
    /** Public base URL without a trailing slash, e.g. https://voice.example.com */
    publicUrl: string;
    logLevel: Env['LOG_LEVEL'];
    maxCalls: number;
    drainTimeoutS: number;
    maxWsMessageBytes: number;
    wsMaxBackpressureBytes: number;
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
    streamTokenSecret: string;
    streamTokenTtlS: number;
  };
  gemini: {
    apiKey: string | undefined;
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
    prebufferMs: number;
    connectTimeoutMs: number;
    promptsDir: string | undefined;
  };
  tools: {
    orderApiUrl: string | undefined;
    transferNumber: string | undefined;
    timeoutMs: number;
  };
  outbound: {
    apiKey: string | undefined;
  };
  store: {
    kind: 'memory' | 'redis';
    redisUrl: string | undefined;
    recordTtlS: number;
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
  const config: Config = {
    server: {
      host: e.SERVER_HOST,
      port: e.SERVER_PORT,
      publicUrl: e.PUBLIC_URL.replace(/\/+$/, ''),
      logLevel: e.LOG_LEVEL,
      maxCalls: e.MAX_CALLS,
      drainTimeoutS: e.DRAIN_TIMEOUT_S,
      maxWsMessageBytes: e.MAX_WS_MESSAGE_BYTES,
      wsMaxBackpressureBytes: e.WS_MAX_BACKPRESSURE_BYTES,
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
      // Separate secret recommended; falling back to the auth token keeps single-secret setups working.
      streamTokenSecret: e.STREAM_TOKEN_SECRET ?? e.PLIVO_AUTH_TOKEN,
      streamTokenTtlS: e.STREAM_TOKEN_TTL_S,
    },
    gemini: {
      apiKey: e.GEMINI_API_KEY,
      vertexai: e.GOOGLE_GENAI_USE_VERTEXAI,
      project: e.GOOGLE_CLOUD_PROJECT,
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
      prebufferMs: e.GEMINI_PREBUFFER_MS,
      connectTimeoutMs: e.GEMINI_CONNECT_TIMEOUT_MS,
      promptsDir: e.PROMPTS_DIR,
    },
    tools: { orderApiUrl: e.ORDER_API_URL, transferNumber: e.TRANSFER_NUMBER, timeoutMs: e.TOOL_TIMEOUT_MS },
    outbound: { apiKey: e.OUTBOUND_API_KEY },
    store: { kind: e.STATE_STORE, redisUrl: e.REDIS_URL, recordTtlS: e.CALL_RECORD_TTL_S },
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

function redactIfSecret(name: string, value: string): string {
  return /TOKEN|KEY|SECRET|PASSWORD/.test(name) ? '<redacted>' : value;
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
}

/**
 * A complete, valid environment for tests, the demo and the benchmark: emulator credentials only, never real ones.
 * Callers override what they need (ports, URLs).
 */
export function testEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PUBLIC_URL: 'http://127.0.0.1:8000',
    PLIVO_AUTH_ID: 'MAEMULATOR0000000000',
    PLIVO_AUTH_TOKEN: 'emulator-auth-token',
    PLIVO_PHONE_NUMBER: '+14155550100',
    GEMINI_API_KEY: 'emulator-api-key',
    LOG_LEVEL: 'silent',
    ...overrides,
  };
}
