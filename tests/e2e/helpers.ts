// Shared bits of the end-to-end tests: the real stack on loopback (src/demo/stack.ts) and a caller that speaks in
// tone bursts the Gemini emulator's energy VAD hears as speech.
import { join } from 'node:path';
import type { AudioSource, SimulatedCall } from '../../src/emulators/plivo/index.ts';

export const SCENARIOS = join(import.meta.dirname, '../../scenarios');

/** Speech-like tone, then enough silence for the emulator's VAD to call the end of the utterance. */
export function utterance(ms = 600): AudioSource {
  return {
    kind: 'sequence',
    parts: [
      { kind: 'tone', hz: 300, ms, amplitude: 0.3 },
      { kind: 'silence', ms: 700 },
    ],
  };
}

export async function until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** performance.now() → Date.now() scale (same process). */
export function wallTime(perf: number): number {
  return Date.now() - performance.now() + perf;
}

/** The caller has heard everything queued so far (plus a margin). */
export async function heardAll(call: SimulatedCall, marginMs = 100): Promise<void> {
  await until(
    () => {
      const last = call.played.at(-1);
      return last !== undefined && performance.now() > last.endAt + marginMs;
    },
    20_000,
    'agent audio played',
  );
}
