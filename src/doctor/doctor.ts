// `npm run doctor`: what a user runs before the first real call. It checks, in order, each thing that must be right
// for a phone call to reach the agent and be answered, prints one plain line per check, and stops at the first
// blocker with what to do about it. It uses the same code paths as the gateway (config, Plivo REST client, webhook
// signing, Gemini session with its profile and credentials), against whatever the configuration points at: the
// real services, or the emulators in tests (PLIVO_API_BASE_URL; GOOGLE_GEMINI_BASE_URL, read by the SDK).
//
// The gateway must be running (npm start) for the PUBLIC_URL checks: they go through the public URL, as Plivo will.
import { randomBytes, randomUUID } from 'node:crypto';
import { buildSystemPrompt, buildTurnPrompt } from '../calls/prompts.ts';
import { type Config, loadConfig } from '../config.ts';
import type { CallContext } from '../contract/call.ts';
import { ConfigError, errorMessage, PlivoApiError } from '../errors.ts';
import { describeGeminiClose } from '../gemini/close-reasons.ts';
import { createLiveSession } from '../gemini/live-session.ts';
import { profileForModel } from '../gemini/profiles.ts';
import type { LiveSession } from '../gemini/types.ts';
import { childLogger } from '../log.ts';
import { createPlivoRestClient } from '../plivo/rest-client.ts';
import { signV3 } from '../plivo/signature.ts';
import { builtinTools } from '../tools/index.ts';
import { ToolRegistry } from '../tools/registry.ts';
import { type CallerLine, callerLine } from './caller-line.ts';

export type CheckName = 'config' | 'plivo-account' | 'plivo-number' | 'public-url' | 'webhook-signature' | 'gemini';

export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  /** Where lines go (default stdout). */
  out?: (line: string) => void;
  /** Gemini base URL; default: the SDK's own resolution (GOOGLE_GEMINI_BASE_URL, else Google). */
  geminiBaseUrl?: string | undefined;
  /** How long the agent has to start speaking, for the greeting and for the answer. */
  audioTimeoutMs?: number;
  /** Per HTTP request. */
  httpTimeoutMs?: number;
  /** The caller's line (PCM16 16 kHz); default espeak-ng or the bundled recording. */
  callerLine?: CallerLine;
}

export interface GeminiTimings {
  connectMs: number;
  greetingFirstAudioMs: number;
  answerFirstAudioMs: number;
}

export interface DoctorResult {
  ok: boolean;
  /** The check that blocked, if any. */
  failed: CheckName | undefined;
  lines: string[];
  gemini: GeminiTimings | undefined;
}

export class Blocker extends Error {
  readonly check: CheckName;
  readonly fix: string | undefined;
  constructor(check: CheckName, message: string, fix?: string) {
    super(message);
    this.check = check;
    this.fix = fix;
  }
}

const OK = '✔';
const FAIL = '✘';
const WARN = '!';

export async function runDoctor(o: DoctorOptions): Promise<DoctorResult> {
  const lines: string[] = [];
  const print = (line: string) => {
    lines.push(line);
    (o.out ?? ((l: string) => process.stdout.write(`${l}\n`)))(line);
  };
  const httpTimeoutMs = o.httpTimeoutMs ?? 5000;
  let gemini: GeminiTimings | undefined;
  print('gemini-plivo-gateway doctor: checking what the first real call needs');
  try {
    let config: Config;
    try {
      config = loadConfig(o.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new Blocker(
        'config',
        `Configuration: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}:\n${err.problems.map((p) => `    - ${p}`).join('\n')}`,
        'fix these in .env (every setting is described in .env.example and the README), then run npm run doctor again',
      );
    }
    const profile = profileForModel(config.gemini.model);
    const creds = config.gemini.credentials.length;
    print(
      `${OK} Configuration: loaded (model ${config.gemini.model}${profile.known ? '' : ' — not in the profile table, using the conservative profile'}, voice ${config.gemini.voice}, ${creds} Gemini credential${creds === 1 ? '' : 's'})`,
    );

    const plivo = createPlivoRestClient({
      authId: config.plivo.authId,
      authToken: config.plivo.authToken,
      baseUrl: config.plivo.apiBaseUrl,
      timeoutMs: httpTimeoutMs,
      maxRetries: 1,
      baseBackoffMs: 200,
      logger: childLogger({ component: 'doctor' }),
    });
    print(await checkPlivoAccount(config, plivo));
    print(await checkNumber(config, plivo));
    print(await checkHealth(config, httpTimeoutMs));
    for (const line of await checkSignedWebhook(config, httpTimeoutMs)) print(line);
    const g = await checkGemini(config, o);
    gemini = g.timings;
    print(g.line);
    if (config.gemini.credentials.length > 1) print(await checkOtherCredentials(config, o));
    print('All checks passed: the gateway is ready for a real call.');
    return { ok: true, failed: undefined, lines, gemini };
  } catch (err) {
    const b = err instanceof Blocker ? err : new Blocker('config', `Unexpected failure: ${errorMessage(err)}`);
    print(`${FAIL} ${b.message}`);
    if (b.fix !== undefined) print(`  → ${b.fix}`);
    print('Stopped at the first blocker. Fix it and run npm run doctor again.');
    return { ok: false, failed: b.check, lines, gemini };
  }
}

type Plivo = ReturnType<typeof createPlivoRestClient>;

async function checkPlivoAccount(config: Config, plivo: Plivo): Promise<string> {
  try {
    const acct = await plivo.request<{ name?: string; account_type?: string; cash_credits?: string }>({
      method: 'GET',
      path: '',
      policy: 'idempotent',
    });
    const what = [acct.name, acct.account_type].filter(Boolean).join(', ');
    return `${OK} Plivo account: ${maskId(config.plivo.authId)} accepted the credentials${what ? ` (${what})` : ''}`;
  } catch (err) {
    if (err instanceof PlivoApiError && err.status === 401) {
      throw new Blocker(
        'plivo-account',
        `Plivo account: Plivo refused PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN (HTTP 401)`,
        'copy both from the Plivo console (Overview → Account, Auth ID and Auth Token) into .env',
      );
    }
    throw new Blocker(
      'plivo-account',
      `Plivo account: could not reach the Plivo API at ${config.plivo.apiBaseUrl}: ${errorMessage(err)}`,
      'check the network (outbound HTTPS to api.plivo.com) and PLIVO_API_BASE_URL',
    );
  }
}

async function checkNumber(config: Config, plivo: Plivo): Promise<string> {
  const number = config.plivo.phoneNumber;
  const digits = number.replace(/^\+/, '');
  const answer = `${config.server.publicUrl}/answer`;
  const hangup = `${config.server.publicUrl}/hangup`;
  const autoFix = config.plivo.autoConfigure
    ? 'PLIVO_AUTO_CONFIGURE=true points it at PUBLIC_URL when the gateway starts: restart the gateway (npm start) and look for its "Ready!" line'
    : `set PLIVO_AUTO_CONFIGURE=true and restart the gateway, or in the Plivo console point the number's application at ${answer} (answer URL) and ${hangup} (hangup URL), method POST`;
  let num: { application?: string | null };
  try {
    num = await plivo.request({ method: 'GET', path: `Number/${encodeURIComponent(digits)}/`, policy: 'idempotent' });
  } catch (err) {
    if (err instanceof PlivoApiError && err.status === 404) {
      throw new Blocker(
        'plivo-number',
        `Plivo number: PLIVO_PHONE_NUMBER ${number} is not a number of this Plivo account (HTTP 404)`,
        'use a number listed under Phone Numbers in the Plivo console (rent one if there is none)',
      );
    }
    throw new Blocker('plivo-number', `Plivo number: lookup of ${number} failed: ${errorMessage(err)}`);
  }
  const appRef = typeof num.application === 'string' ? num.application : '';
  const appId = /Application\/([^/]+)\/?$/.exec(appRef)?.[1] ?? (appRef.includes('/') ? '' : appRef);
  if (appId === '') {
    throw new Blocker(
      'plivo-number',
      `Plivo number: ${number} has no application, so its calls reach nothing`,
      autoFix,
    );
  }
  let app: { app_name?: string; answer_url?: string; hangup_url?: string };
  try {
    app = await plivo.request({
      method: 'GET',
      path: `Application/${encodeURIComponent(appId)}/`,
      policy: 'idempotent',
    });
  } catch (err) {
    throw new Blocker('plivo-number', `Plivo number: could not read its application ${appId}: ${errorMessage(err)}`);
  }
  const same = (a: string | undefined, b: string) => (a ?? '').replace(/\/+$/, '') === b;
  const wrong: string[] = [];
  if (!same(app.answer_url, answer)) wrong.push(`answer URL is ${app.answer_url || '(none)'}, not ${answer}`);
  if (!same(app.hangup_url, hangup)) wrong.push(`hangup URL is ${app.hangup_url || '(none)'}, not ${hangup}`);
  if (wrong.length > 0) {
    throw new Blocker(
      'plivo-number',
      `Plivo number: ${number} is pointed elsewhere: its application "${app.app_name ?? appId}" ${wrong.join('; its ')}`,
      autoFix,
    );
  }
  return `${OK} Plivo number: ${number} → application "${app.app_name ?? appId}" → ${answer} (hangup ${hangup})`;
}

async function checkHealth(config: Config, timeoutMs: number): Promise<string> {
  const url = `${config.server.publicUrl}/healthz`;
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  } catch (err) {
    throw new Blocker(
      'public-url',
      `PUBLIC_URL: ${url} is not reachable: ${networkReason(err, timeoutMs)}`,
      'start the gateway (npm start) and make sure PUBLIC_URL (tunnel, proxy or load balancer) forwards to it on SERVER_PORT',
    );
  }
  const text = await res.text().catch(() => '');
  let status: unknown;
  try {
    status = (JSON.parse(text) as { status?: unknown }).status;
  } catch {
    status = undefined;
  }
  if (res.status !== 200 || status !== 'ok') {
    throw new Blocker(
      'public-url',
      `PUBLIC_URL: ${url} answered HTTP ${res.status}, but not as this gateway does`,
      'PUBLIC_URL must lead to this gateway itself (no path prefix, no login page); check the tunnel or proxy target',
    );
  }
  return `${OK} PUBLIC_URL: ${config.server.publicUrl} reaches the gateway (/healthz in ${Math.round(performance.now() - started)} ms)`;
}

/** A harmless signed callback (no CallUUID: the gateway accepts it and does nothing), then the same unsigned. */
async function checkSignedWebhook(config: Config, timeoutMs: number): Promise<string[]> {
  const url = `${config.server.publicUrl}/callbacks/stream-status`;
  const params: [string, string][] = [['Event', 'DoctorCheck']];
  const body = new URLSearchParams(params).toString();
  const nonce = randomBytes(10).toString('hex');
  const post = (headers: Record<string, string>) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  let signed: Response;
  try {
    signed = await post({
      'x-plivo-signature-v3': signV3(config.plivo.authToken, 'POST', url, nonce, params),
      'x-plivo-signature-v3-nonce': nonce,
    });
  } catch (err) {
    throw new Blocker('webhook-signature', `Signed webhooks: ${url} failed: ${networkReason(err, timeoutMs)}`);
  }
  if (signed.status === 403) {
    throw new Blocker(
      'webhook-signature',
      'Signed webhooks: the gateway refused a request signed with PLIVO_AUTH_TOKEN (HTTP 403), so it would refuse Plivo too',
      'run the gateway with the same PLIVO_AUTH_TOKEN as here, and make sure PUBLIC_URL is exactly the URL Plivo calls (scheme, host, port): signatures cover it',
    );
  }
  if (signed.status < 200 || signed.status >= 300) {
    throw new Blocker('webhook-signature', `Signed webhooks: ${url} answered HTTP ${signed.status}`);
  }
  const lines = [
    `${OK} Signed webhooks: a request signed like Plivo's reaches the gateway through PUBLIC_URL and is accepted`,
  ];
  const unsigned = await post({}).catch(() => undefined);
  if (unsigned !== undefined && unsigned.status >= 200 && unsigned.status < 300) {
    lines.push(
      `${WARN} Signed webhooks: the gateway also accepted an unsigned request: PLIVO_VERIFY_SIGNATURES is off on it (anyone could post calls)`,
    );
  }
  return lines;
}

/**
 * A real Live session the way a call opens one: the configured model and voice, the inbound system prompt, the
 * opening turn (so the agent greets first), then the caller's line as audio; the agent must answer both with audio.
 */
export async function checkGemini(
  config: Config,
  o: Omit<DoctorOptions, 'env'> = {},
): Promise<{ line: string; timings: GeminiTimings }> {
  const timeoutMs = o.audioTimeoutMs ?? 15_000;
  const line = o.callerLine ?? (await callerLine());
  const ctx: CallContext = { callId: `doctor-${randomUUID()}`, direction: 'inbound', from: '', to: '' };
  const promptOpts = { dir: config.gemini.promptsDir };
  const what = `Gemini Live (${config.gemini.model}, voice ${config.gemini.voice})`;

  let firstAudioAt = 0;
  let turnAudio = 0;
  let turnsCompleted = 0;
  let waiter: { resolve: () => void; reject: (e: Blocker) => void } | undefined;
  let failure: Blocker | undefined;
  const fail = (b: Blocker) => {
    failure ??= b;
    waiter?.reject(failure);
  };
  const session: LiveSession = createLiveSession(
    config.gemini,
    {
      callId: ctx.callId,
      systemPrompt: buildSystemPrompt(ctx, promptOpts),
      // The call's own tool declarations, so the setup is exactly a call's (a model refusing one closes with 1007).
      tools: new ToolRegistry(builtinTools, config.tools.timeoutMs).declarations(),
      logger: childLogger({ component: 'doctor', callId: ctx.callId }),
      transcriptForContext: () => '',
      events: {
        onAudio: (pcm) => {
          if (pcm.length === 0) return;
          if (turnAudio === 0) firstAudioAt = performance.now();
          turnAudio += pcm.length;
          waiter?.resolve();
        },
        onTurnComplete: () => {
          turnsCompleted++;
          if (turnAudio === 0 && waiter !== undefined) {
            fail(
              new Blocker(
                'gemini',
                `${what}: the agent's turn ended with no audio (a silent turn)`,
                'try again; if it keeps happening, try another GEMINI_MODEL or GEMINI_VOICE',
              ),
            );
          }
        },
        onInterrupted: () => {},
        onInputTranscript: () => {},
        onOutputTranscript: () => {},
        // No tool runs in a check: the model hears so and carries on speaking.
        onToolCall: (calls) =>
          session.sendToolResponses(
            calls.map((c) => ({
              id: c.id,
              name: c.name,
              response: { error: 'This is a test call: tools are not available.' },
            })),
          ),
        onToolCallCancellation: () => {},
        onUsage: () => {},
        onReconnect: () => {},
        onFatal: (err) => fail(geminiBlocker(what, err)),
      },
    },
    { baseUrl: o.geminiBaseUrl, maxFreshAttempts: 2, backoffBaseMs: 200, closeWaitMs: 500 },
  );
  /** Until the agent's first audio of the current turn; rejects on failure, silence, or timeout. */
  const firstAudio = (label: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure);
      const timer = setTimeout(
        () =>
          reject(
            new Blocker(
              'gemini',
              `${what}: no audio from the agent within ${Math.round(timeoutMs / 1000)} s ${label}`,
              'the session opened, so key, model and voice were accepted; check the prompts (PROMPTS_DIR) and try another GEMINI_MODEL',
            ),
          ),
        timeoutMs,
      );
      waiter = {
        resolve: () => {
          clearTimeout(timer);
          waiter = undefined;
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          waiter = undefined;
          reject(e);
        },
      };
    });
  try {
    const t0 = performance.now();
    try {
      await session.ready();
    } catch (err) {
      throw failure ?? geminiBlocker(what, err);
    }
    const connectMs = performance.now() - t0;
    // The opening turn, exactly as a call sends it (the native-audio models wait for input before speaking).
    turnAudio = 0;
    const greeting = firstAudio('after the opening turn');
    const tOpen = performance.now();
    session.sendText(buildTurnPrompt('opening-inbound', ctx, promptOpts));
    await greeting;
    const greetingFirstAudioMs = firstAudioAt - tOpen;
    await waitTurnEnd();
    // The caller speaks (a little faster than real time), then is silent so the service's VAD ends the turn.
    turnAudio = 0;
    const answer = firstAudio("after the caller's line");
    await sendPaced(session, line.pcm);
    const tSaid = performance.now();
    await sendPaced(session, new Int16Array(16_000 * 1.5));
    await answer;
    const answerFirstAudioMs = firstAudioAt - tSaid;
    const timings = { connectMs, greetingFirstAudioMs, answerFirstAudioMs };
    return {
      line: `${OK} ${what}: connected in ${Math.round(connectMs)} ms; greeted after the opening turn in ${Math.round(greetingFirstAudioMs)} ms (first audio); answered the caller's spoken line (${line.source}) in ${Math.round(answerFirstAudioMs)} ms`,
      timings,
    };
  } finally {
    await session.close().catch(() => {});
  }

  /** The greeting has finished arriving (its turnComplete): speaking earlier would barge in on it. */
  async function waitTurnEnd(): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (turnsCompleted === 0 && performance.now() < deadline) {
      if (failure) throw failure;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * With several credentials the full check ran on the first; each other one must at least open a session (a revoked
 * key among five would otherwise fail one call in five).
 */
async function checkOtherCredentials(config: Config, o: Omit<DoctorOptions, 'env'>): Promise<string> {
  const all = config.gemini.credentials;
  for (const credential of all.slice(1)) {
    const what = `Gemini credential ${credential.label} (${credential.index + 1} of ${all.length})`;
    const session = createLiveSession(
      { ...config.gemini, credentials: [credential] },
      {
        callId: `doctor-${randomUUID()}`,
        systemPrompt: 'You are a test agent.',
        tools: [],
        logger: childLogger({ component: 'doctor' }),
        transcriptForContext: () => '',
        events: {
          onAudio: () => {},
          onInterrupted: () => {},
          onTurnComplete: () => {},
          onInputTranscript: () => {},
          onOutputTranscript: () => {},
          onToolCall: () => {},
          onToolCallCancellation: () => {},
          onUsage: () => {},
          onReconnect: () => {},
          onFatal: () => {},
        },
      },
      { baseUrl: o.geminiBaseUrl, maxFreshAttempts: 1, closeWaitMs: 500 },
    );
    try {
      await session.ready();
    } catch (err) {
      throw geminiBlocker(what, err);
    } finally {
      await session.close().catch(() => {});
    }
  }
  return `${OK} Gemini credentials: all ${all.length} open a session (labels in /metrics: ${all.map((c) => c.label).join(', ')})`;
}

const CHUNK = 16 * 100; // 100 ms at 16 kHz

/** 100 ms chunks every 25 ms: four times real time, like a caller's audio arriving with a little burst. */
async function sendPaced(session: LiveSession, pcm: Int16Array): Promise<void> {
  for (let i = 0; i < pcm.length; i += CHUNK) {
    session.sendAudio(pcm.subarray(i, Math.min(pcm.length, i + CHUNK)));
    await new Promise((r) => setTimeout(r, 25));
  }
}

function geminiBlocker(what: string, err: unknown): Blocker {
  const close = closeOf(err);
  if (close !== undefined) {
    return new Blocker(
      'gemini',
      `${what}: Gemini closed the session: ${describeGeminiClose(close.code, close.reason)}`,
    );
  }
  return new Blocker(
    'gemini',
    `${what}: could not open a session: ${errorMessage(err)}`,
    'check the network (outbound WSS to generativelanguage.googleapis.com), GEMINI_API_KEY and GEMINI_MODEL',
  );
}

/** The close code and reason the SDK put in its error ("…(code 1007): reason"), through the cause chain. */
function closeOf(err: unknown): { code: number; reason: string } | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const m = /\(code (\d{4})\):\s*(.*)$/s.exec(e.message);
    if (m) return { code: Number(m[1]), reason: m[2]!.trim() };
  }
  return undefined;
}

function networkReason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? errorMessage(err);
}

/** MA1234…6789: enough to recognise the account, not the whole id. */
function maskId(id: string): string {
  return id.length <= 8 ? id : `${id.slice(0, 4)}…${id.slice(-4)}`;
}
