// `npm run dev`: the gateway exactly as `npm start` runs it (src/main.ts, its own process), wired to a local Plivo
// emulator and a local Gemini Live emulator on fixed loopback ports, with a ready configuration and no credentials.
// A small control port places simulated inbound calls (the emulated Plivo is where calls come from, so the caller
// has to be simulated there, not by a curl to the gateway). Prints the commands for an inbound call, an outbound
// call and a campaign; the README's "Try it locally" block is the same commands, and a test runs them as written.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createCallerVoice } from '../demo/caller-voice.ts';
import { startGeminiLiveEmulator } from '../emulators/gemini-live/index.ts';
import { type SimulatedCall, startPlivoEmulator } from '../emulators/plivo/index.ts';
import { setRootLogger } from '../log.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Fixed, so that the README's commands work as written. Override only when a port is taken. */
const PORTS = {
  gateway: Number(process.env.DEV_GATEWAY_PORT ?? 8000),
  plivo: Number(process.env.DEV_PLIVO_PORT ?? 9000),
  control: Number(process.env.DEV_CONTROL_PORT ?? 9001),
  gemini: Number(process.env.DEV_GEMINI_PORT ?? 9100),
};

/** Local-only credentials: each emulator checks them like the real service checks real ones. */
export const DEV = {
  authId: 'MADEVLOCAL0000000000',
  authToken: 'dev-plivo-auth-token',
  geminiKey: 'dev-gemini-api-key',
  outboundKey: 'dev-outbound-key',
  number: '+14155550100',
  caller: '+14155550123',
} as const;

const INBOUND_LINES = [
  "Hi, I'd like to know where my order is. The number is O R D 1001.",
  "No, that's all. Thanks, bye!",
];

async function main(): Promise<void> {
  // The emulators' own logs would bury the gateway's; errors only, on stderr.
  setRootLogger(pino({ level: process.env.DEV_EMULATOR_LOG_LEVEL ?? 'error' }, pino.destination(2)));
  const voice = await createCallerVoice();
  const hello = await voice.say('Hello?');

  const gemini = await startGeminiLiveEmulator({
    port: PORTS.gemini,
    apiKey: DEV.geminiKey,
    scenario: join(ROOT, 'scenarios/demo-order-status.json'),
    // Outbound calls get an agent that introduces itself as the caller: prompts/outbound.md says so in these words.
    scenarioRoutes: [
      { systemInstructionIncludes: 'You placed this call', scenario: join(ROOT, 'scenarios/outbound-reminder.json') },
    ],
  });
  const plivo = await startPlivoEmulator({
    port: PORTS.plivo,
    authId: DEV.authId,
    authToken: DEV.authToken,
    // Every outbound callee answers after a short ring, says "Hello?", listens, and hangs up after 20 s.
    outbound: () => ({
      kind: 'answer',
      ringMs: 1000,
      audio: { kind: 'sequence', parts: [{ kind: 'silence', ms: 400 }, hello] },
      hangupAfterMs: 20_000,
    }),
  });
  const gatewayUrl = `http://127.0.0.1:${PORTS.gateway}`;
  const gateway = spawnGateway(gatewayUrl, plivo.restBaseUrl, gemini.baseUrl);
  const control = createServer((req, res) => {
    void handleControl(req, res, plivo, voice).catch((err: unknown) => reply(res, 500, { error: String(err) }));
  });
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    control.listen(PORTS.control, '127.0.0.1', resolve);
  });
  await waitForGateway(gatewayUrl, gateway);
  await waitForNumber(plivo, gateway);

  process.stdout.write(banner(gatewayUrl, voice.kind));
  process.stdout.write('\nready\n');

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    gateway.kill('SIGTERM');
    gateway.once('exit', () => {
      void Promise.all([plivo.close(), gemini.close(), voice.close(), new Promise((r) => control.close(r))]).finally(
        () => process.exit(0),
      );
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  gateway.once('exit', (code) => {
    if (stopping) return;
    process.stderr.write(`dev: the gateway exited (code ${code}); stopping\n`);
    void Promise.all([plivo.close(), gemini.close(), voice.close()]).finally(() => process.exit(1));
  });
}

function spawnGateway(publicUrl: string, plivoUrl: string, geminiUrl: string): ChildProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // A developer's own .env (real credentials, Redis…) must not leak into the local stack.
    ENV_FILE: '/dev/null',
    SERVER_HOST: '127.0.0.1',
    SERVER_PORT: String(PORTS.gateway),
    PUBLIC_URL: publicUrl,
    PLIVO_AUTH_ID: DEV.authId,
    PLIVO_AUTH_TOKEN: DEV.authToken,
    PLIVO_PHONE_NUMBER: DEV.number,
    PLIVO_API_BASE_URL: plivoUrl,
    // Points the number at this gateway through the emulated Plivo's Application API, as on a real account.
    PLIVO_AUTO_CONFIGURE: 'true',
    GEMINI_API_KEY: DEV.geminiKey,
    // The @google/genai SDK's own variable: the gateway never sets it, an operator (here, dev) does.
    GOOGLE_GEMINI_BASE_URL: geminiUrl,
    OUTBOUND_API_KEY: DEV.outboundKey,
    STATE_STORE: 'memory',
    DRAIN_TIMEOUT_S: '2',
    LOG_PRETTY: process.env.LOG_PRETTY ?? 'true',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  // Its own process group: a Ctrl-C in the terminal reaches only this process, which then sends the gateway one
  // SIGTERM (a second signal would make the gateway skip its drain).
  const child = spawn(process.execPath, [join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  process.once('exit', () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  return child;
}

async function waitForGateway(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with code ${child.exitCode} while starting`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the gateway did not answer ${url}/healthz within 20 s`);
}

/** PLIVO_AUTO_CONFIGURE runs after the gateway listens: calls can ring once the number points at the gateway. */
async function waitForNumber(
  plivo: Awaited<ReturnType<typeof startPlivoEmulator>>,
  child: ChildProcess,
): Promise<void> {
  const digits = DEV.number.slice(1);
  const deadline = Date.now() + 20_000;
  while (!plivo.numbers.get(digits)) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with code ${child.exitCode} while starting`);
    if (Date.now() > deadline) throw new Error(`the gateway did not attach ${DEV.number} to its application in 20 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  plivo: Awaited<ReturnType<typeof startPlivoEmulator>>,
  voice: Awaited<ReturnType<typeof createCallerVoice>>,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control');
  if (req.method !== 'POST' || url.pathname !== '/inbound-call') {
    reply(res, 404, { error: 'POST /inbound-call places a simulated inbound call' });
    return;
  }
  // No answer URL: the emulated Plivo uses the application the gateway attached to the number at start.
  const call = await plivo.placeInboundCall({ from: DEV.caller, to: DEV.number, idleMedia: 'silence' });
  await waitQuiet(call, 1);
  await call.sendAudio(await voice.say(INBOUND_LINES[0]!));
  await waitQuiet(call, 2);
  await call.sendAudio(await voice.say(INBOUND_LINES[1]!));
  const ended = await Promise.race([
    call.completed.then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 30_000)),
  ]);
  if (!ended) await call.hangup();
  reply(res, 200, {
    call_uuid: call.callUuid,
    status: call.status,
    agent_audio_heard_s: Math.round((call.playedPcm8k().length / 8000) * 10) / 10,
    hangup_cause: call.hangupParams?.HangupCauseName ?? null,
    ended_by: ended ? 'agent' : 'caller',
    protocol_errors: call.errors,
  });
}

/** Waits until the agent has spoken `turns` separate times and then paused: a polite caller. */
async function waitQuiet(call: SimulatedCall, turns: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    let bursts = 0;
    let prevEnd = -Infinity;
    for (const p of call.played) {
      if (p.at - prevEnd > 400) bursts++;
      prevEnd = p.endAt;
    }
    const last = call.played.at(-1);
    if (bursts >= turns && last !== undefined && performance.now() > last.endAt + 600) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

function banner(gatewayUrl: string, voiceKind: string): string {
  const auth = `-H "Authorization: Bearer ${DEV.outboundKey}"`;
  return `
Local stack (no credentials):
  gateway          ${gatewayUrl}   (src/main.ts, logs below)
  Plivo emulator   http://127.0.0.1:${PORTS.plivo}   number ${DEV.number} points at the gateway
  Gemini emulator  http://127.0.0.1:${PORTS.gemini}   scripted agent (scenarios/), synthetic voice
  caller voice     ${voiceKind === 'espeak' ? 'espeak-ng speech' : 'tone bursts (install espeak-ng and sox for speech)'}
  The agent's words and voice are scripted by the emulator; the gateway, its audio path and tools are real.

In another terminal:
  # an inbound call: a simulated caller rings ${DEV.number}, asks about order ORD-1001, says goodbye
  curl -s -X POST http://127.0.0.1:${PORTS.control}/inbound-call
  # an outbound call
  curl -s -X POST ${gatewayUrl}/outbound/call ${auth} -H "Content-Type: application/json" \\
    -d '{"phone_number":"+14155550111","opening_reason":"your order ORD-1001","objective":"confirm delivery"}'
  # a campaign of three contacts, then its progress
  curl -s -X POST ${gatewayUrl}/outbound/campaign ${auth} -H "Content-Type: application/json" \\
    -d '{"campaign_id":"dev-campaign","opening_reason":"your order","objective":"confirm delivery","contacts":[{"phone_number":"+14155550111"},{"phone_number":"+14155550112"},{"phone_number":"+14155550113"}]}'
  curl -s ${auth} ${gatewayUrl}/outbound/campaign/dev-campaign

Ctrl-C stops everything.
`;
}

await main();
