// `npm run demo`: one realistic call through the whole gateway with no credentials at all. The Gemini Live
// emulator plays the agent (scenarios/demo-order-status.json), the Plivo emulator plays the phone network and the
// caller, and the real gateway (edge, CallManager, tools, store) sits between them on loopback. Prints a live
// transcript with tool activity and timings; saves what the caller heard to demo-output/caller-heard.wav, the
// two-channel recording (caller left, agent right, real timeline) to demo-output/recordings/, and prints the
// greeting and response latency of each turn as measured on the wire.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { CallEvent } from '../calls/events.ts';
import { encodeWav, type SimulatedCall } from '../emulators/plivo/index.ts';
import { setRootLogger } from '../log.ts';
import type { LatencySummary } from '../observability/latency.ts';
import type { OperatorRecord } from '../records/view.ts';
import { createCallerVoice } from './caller-voice.ts';
import { runPlaygroundDemo } from './playground.ts';
import { createPrinter } from './printer.ts';
import { startLocalStack } from './stack.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const SCENARIO = join(ROOT, 'scenarios/demo-order-status.json');
const OUTPUT = join(ROOT, 'demo-output/caller-heard.wav');
const RECORDINGS = join(ROOT, 'demo-output/recordings');

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
  let finalized: (r: OperatorRecord) => void = () => {};
  const final = new Promise<OperatorRecord>((resolve) => {
    finalized = resolve;
  });
  const stack = await startLocalStack({
    scenario: SCENARIO,
    env: { LOG_LEVEL: 'error', RECORDING: 'on', RECORDING_DIR: RECORDINGS },
    operator: {
      settleMs: 500,
      onTurn: (_callId, t) =>
        out.note(
          t.kind === 'greeting'
            ? `⏱  greeting: answer → first agent audio sent ${t.ms} ms (wire)`
            : `⏱  response: caller's end of speech → first agent audio sent ${t.ms} ms (wire)`,
        ),
      onFinalized: (r) => finalized(r),
    },
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
  // Say plainly what is real here and what is not: only the gateway is.
  out.note(
    'synthetic: the agent (the Gemini emulator plays scenarios/demo-order-status.json with ' +
      `${voice.kind === 'espeak' ? 'espeak-ng' : 'synthetic tone'} speech, not a model), the caller (a script), ` +
      'the phone network (the Plivo emulator). Real: the gateway, its audio path, tools and records.',
  );

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
    const op = await Promise.race([final, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
    if (op?.latency) out.note(latencyLine(op.latency));
    if (op?.cost) out.note(`estimated cost: ${op.cost.total.toFixed(4)} ${op.cost.currency} (PRICE_TABLE)`);
    if (op?.recording) {
      out.note(
        `two-channel recording (caller left, agent right, ${op.recording.durationS.toFixed(1)} s): ${join(RECORDINGS, `${op.id}.wav`)}`,
      );
    }
    const metrics = await fetch(`${stack.base}/metrics`).then((r) => r.text());
    for (const l of metrics.split('\n')) {
      if (/^gateway_(greeting|response|barge_in|agent_gap)_\w+_(count|sum)/.test(l)) out.note(`/metrics ${l}`);
    }
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

function latencyLine(l: LatencySummary): string {
  const parts = [
    `greeting sent ${l.greeting_sent_ms ?? '-'} ms / played ${l.greeting_played_ms ?? '-'} ms`,
    `response p50 ${l.response_ms.p50} ms p95 ${l.response_ms.p95} ms (${l.response_ms.count})`,
    `barge-in clear ${l.barge_in_clear_sent_ms.count > 0 ? `${l.barge_in_clear_sent_ms.p50} ms` : '-'}`,
    `gaps ${l.gaps_ms.count} (${l.gaps_ms.total} ms)`,
  ];
  return `wire latency: ${parts.join(' · ')}`;
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
