// `npm run demo`: one realistic call through the whole gateway with no credentials at all. The Gemini Live
// emulator plays the agent (scenarios/demo-order-status.json), the Plivo emulator plays the phone network and the
// caller, and the real gateway (edge, CallManager, tools, store) sits between them on loopback. Prints a live
// transcript with tool activity and timings; saves what the caller heard to demo-output/caller-heard.wav.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { CallEvent } from '../calls/events.ts';
import { encodeWav, type SimulatedCall } from '../emulators/plivo/index.ts';
import { setRootLogger } from '../log.ts';
import { createCallerVoice } from './caller-voice.ts';
import { runPlaygroundDemo } from './playground.ts';
import { createPrinter } from './printer.ts';
import { startLocalStack } from './stack.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const SCENARIO = join(ROOT, 'scenarios/demo-order-status.json');
const OUTPUT = join(ROOT, 'demo-output/caller-heard.wav');

const CALLER_LINES = [
  "Hi, I'd like to know where my order is. The number is O R D 1001.",
  "No, that's all. Thanks, bye!",
];

async function main(): Promise<void> {
  // Logs would drown the transcript: errors only, on stderr (DEMO_LOG_LEVEL=info shows everything).
  setRootLogger(pino({ level: process.env.DEMO_LOG_LEVEL ?? 'error' }, pino.destination(2)));
  const out = createPrinter(process.stdout);
  out.banner('Gemini Live × Plivo gateway demo (emulated Gemini and Plivo, no credentials needed)');

  const seen: CallEvent[] = [];
  const stack = await startLocalStack({
    scenario: SCENARIO,
    env: { LOG_LEVEL: 'error' },
    manager: {
      onEvent: (_callId: string, e: CallEvent) => {
        seen.push(e);
        out.event(e);
      },
    },
  });
  const voice = await createCallerVoice();
  out.note(
    `gateway ${stack.base} · Gemini emulator ${stack.gemini.baseUrl} · Plivo emulator ${stack.plivo.restBaseUrl}`,
  );
  out.note(`caller voice: ${voice.kind === 'espeak' ? 'espeak-ng speech' : 'tone bursts (espeak-ng not installed)'}`);

  let exitCode = 0;
  let call: SimulatedCall | undefined;
  try {
    out.start();
    out.note('☎  +1 415 555 0123 calls the store…');
    call = await stack.placeCall({ idleMedia: 'silence' });
    const active = call;

    // Caller waits for the greeting to be heard, asks about the order, waits for the answer and the SMS, leaves.
    const turnEndsAfter = (i: number) => seen.slice(i).some((e) => e.type === 'agent-turn-end');
    await waitForAgent(active, 'the greeting', () => turnEndsAfter(0));
    await speak(active, out, CALLER_LINES[0]!, await voice.say(CALLER_LINES[0]!));
    await waitForAgent(active, 'the order answer and the SMS', () => {
      const sms = seen.findIndex((e) => e.type === 'tool-end' && e.name === 'send_sms');
      return sms >= 0 && turnEndsAfter(sms);
    });
    await speak(active, out, CALLER_LINES[1]!, await voice.say(CALLER_LINES[1]!));

    const ended = await stack.callEnded(active.callUuid, 60_000);
    await active.completed;
    const record = await stack.store.get(ended.recordId);
    out.summary({
      endReason: ended.endReason ?? 'unknown',
      plivoStatus: active.status,
      sms: stack.plivo.messages.map((m) => `to ${m.dst}: "${m.text}"`),
      hangupRequests: stack.plivo.requests.filter((r) => r.method === 'DELETE' && r.path.includes('/Call/')).length,
      turns: record?.transcript.length ?? 0,
      tools: (record?.toolCalls ?? []).map((t) => `${t.name} → ${t.outcome}`),
      usageTokens: Number((record?.usage as { totalTokenCount?: number } | undefined)?.totalTokenCount ?? 0),
    });
    const heard = active.playedPcm8k();
    await mkdir(dirname(OUTPUT), { recursive: true });
    await writeFile(OUTPUT, encodeWav(heard, 8000));
    out.note(`what the caller heard (${(heard.length / 8000).toFixed(1)} s, 8 kHz): ${OUTPUT}`);
    if (active.errors.length > 0) {
      out.note(`protocol problems seen by the Plivo emulator: ${active.errors.join('; ')}`);
      exitCode = 1;
    }
    if (ended.endReason !== 'resolved') exitCode = 1;
  } catch (err) {
    out.note(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    exitCode = 1;
  } finally {
    await voice.close();
    await stack.close();
  }
  process.exitCode = exitCode;
}

/** Waits until `done()` holds and the caller has heard everything the agent said (a polite caller). */
async function waitForAgent(call: SimulatedCall, what: string, done: () => boolean): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const last = call.played.at(-1);
    const quiet = last === undefined || performance.now() > last.endAt + 600;
    if (done() && quiet) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the agent did not finish ${what} in time`);
}

async function speak(
  call: SimulatedCall,
  out: ReturnType<typeof createPrinter>,
  text: string,
  audio: Parameters<SimulatedCall['sendAudio']>[0],
): Promise<void> {
  out.callerSays(text);
  await call.sendAudio(audio);
}

const args = process.argv.slice(2);
if (args.includes('--playground')) await runPlaygroundDemo(args);
else await main();
