// A child process for tests/gemini/tls.test.ts: NODE_EXTRA_CA_CERTS is read once at process start, so each trust
// setting needs its own process. Opens TLS_TEST_SESSIONS Live sessions to TLS_TEST_BASE_URL (https://, so the SDK
// speaks wss://), sends an opening turn on each, and prints one JSON line: how many became ready, how many heard agent
// audio, and the fatal errors.
import { loadConfig } from '../../../src/config.ts';
import { emulatorEnv } from '../../../src/demo/emulator-env.ts';
import { createLiveSession } from '../../../src/gemini/live-session.ts';
import type { LiveSession } from '../../../src/gemini/types.ts';
import { rootLogger } from '../../../src/log.ts';
import { recorder } from './recorder.ts';

const baseUrl = process.env.TLS_TEST_BASE_URL ?? '';
const count = Number(process.env.TLS_TEST_SESSIONS ?? 2);
const config = loadConfig(emulatorEnv({})).gemini;
const heard = new Set<number>();
const fatal: string[] = [];
const sessions: LiveSession[] = [];
for (let i = 0; i < count; i++) {
  sessions.push(
    createLiveSession(
      config,
      {
        callId: `tls-${i}`,
        systemPrompt: 'You are a phone agent.',
        tools: [],
        logger: rootLogger(),
        transcriptForContext: () => '',
        events: recorder({ onAudio: () => heard.add(i), onFatal: (err) => fatal.push(err.message) }).handlers,
      },
      { baseUrl, maxFreshAttempts: 1, backoffBaseMs: 10 },
    ),
  );
}
const results = await Promise.allSettled(
  sessions.map(async (s) => {
    await s.ready();
    s.sendText('Hello, who is this?');
  }),
);
const ready = results.filter((r) => r.status === 'fulfilled').length;
const deadline = Date.now() + 5000;
while (ready > 0 && heard.size < ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
await Promise.all(sessions.map((s) => s.close()));
console.log(JSON.stringify({ ready, heard: heard.size, fatal }));
process.exit(0);
