// What the real service does that a kind emulator would hide, through the whole stack: the agent only speaks after
// the gateway's opening turn; a silent agent turn is re-prompted once, then given up politely; a Gemini that accepts
// the connection but never completes setup gets the caller a filler prompt within a moment and the apology within
// the connect budget (issue 15 D7), instead of 30 s of silence.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/calls/events.ts';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import { SCENARIOS, until } from './helpers.ts';

let stack: LocalStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

type Stamped = CallEvent & { t: number };

function textTurns(session: { received: { msg: Record<string, unknown> }[] }): string[] {
  const out: string[] = [];
  for (const { msg } of session.received) {
    const cc = msg.clientContent as { turns?: { parts?: { text?: string }[] }[] } | undefined;
    for (const t of cc?.turns ?? []) for (const p of t.parts ?? []) if (p.text) out.push(p.text);
    const rt = (msg.realtimeInput as { text?: string } | undefined)?.text;
    if (rt) out.push(rt);
  }
  return out;
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('silent agent turns', () => {
  it.each(['none', 'near-zero'] as const)(
    'a silent opening (%s audio) is re-prompted once and the caller then hears the greeting',
    async (silentTurnAudio) => {
      const events: Stamped[] = [];
      stack = await startLocalStack({
        scenario: join(SCENARIOS, 'test-tools.json'),
        gemini: { speech: 'synthetic', faults: { silentTurns: 1, silentTurnAudio } },
        manager: { onEvent: (_id, e) => events.push({ ...e, t: Date.now() }) },
      });
      const before = await metric(stack.base, 'gateway_gemini_silent_turn_reprompts_total');
      const call = await stack.placeCall({ idleMedia: 'silence' });
      const session = await stack.gemini.nextSession(0);
      await until(() => events.some((e) => e.type === 'agent-text'), 10_000, 'the greeting after the re-prompt');
      expect(events.filter((e) => e.type === 'silent-turn').map((e) => (e as { action: string }).action)).toEqual([
        'reprompt',
      ]);
      const turns = textTurns(session);
      expect(turns).toHaveLength(2);
      expect(turns[0]).toContain('Greet them now');
      expect(turns[1]).toContain('did not reach the caller');
      await until(() => call.played.length > 5, 5000, 'greeting audio played');
      expect(await metric(stack.base, 'gateway_gemini_silent_turn_reprompts_total')).toBe(before + 1);
      expect(call.status).toBe('in-progress');
      await call.hangup();
    },
  );

  it('gives up politely after a second silent turn: technical-difficulty prompt, then hang-up', async () => {
    const events: Stamped[] = [];
    stack = await startLocalStack({
      scenario: join(SCENARIOS, 'test-tools.json'),
      gemini: { speech: 'synthetic', faults: { silentTurns: 2 } },
      manager: { onEvent: (_id, e) => events.push({ ...e, t: Date.now() }) },
    });
    const before = await metric(stack.base, 'gateway_gemini_silent_turn_give_ups_total');
    const call = await stack.placeCall({ idleMedia: 'silence' });
    const ended = await stack.callEnded(call.callUuid, 15_000);
    expect(ended.endReason).toBe('gemini-unavailable');
    expect(events.filter((e) => e.type === 'silent-turn').map((e) => (e as { action: string }).action)).toEqual([
      'reprompt',
      'give-up',
    ]);
    // The apology was played (and confirmed) before the hang-up.
    expect(call.played.length).toBeGreaterThan(10);
    expect(events.map((e) => e.type)).toContain('hung-up');
    expect(await metric(stack.base, 'gateway_gemini_silent_turn_give_ups_total')).toBe(before + 1);
  });
});

describe('Gemini that never completes setup (issue 15 D7)', () => {
  it('plays a filler within a moment, then the technical-difficulty prompt within the connect budget', async () => {
    const events: Stamped[] = [];
    stack = await startLocalStack({
      scenario: join(SCENARIOS, 'test-tools.json'),
      gemini: { speech: 'synthetic', faults: { setupNeverCompletes: true } },
      // GEMINI_CONNECT_TIMEOUT_MS stays at its 10 s default: before the budget, this was 3 × 10 s of silence.
      env: { GEMINI_FIRST_CONNECT_BUDGET_MS: '4000', FILLER_PROMPT_AFTER_MS: '500' },
      manager: { onEvent: (_id, e) => events.push({ ...e, t: Date.now() }) },
    });
    const started = Date.now();
    const call = await stack.placeCall({ idleMedia: 'silence' });
    const ended = await stack.callEnded(call.callUuid, 15_000);
    const at = (type: CallEvent['type']) => (events.find((e) => e.type === type)?.t ?? Number.NaN) - started;
    expect(ended.endReason).toBe('gemini-unavailable');
    expect(at('filler')).toBeLessThan(2000);
    expect(at('fatal')).toBeGreaterThan(at('filler'));
    expect(at('fatal')).toBeLessThan(6000);
    // Every attempt reached the emulator and was given up within the budget (at least two tries).
    expect(stack.gemini.sessions.length).toBeGreaterThanOrEqual(2);
    expect(call.played.length).toBeGreaterThan(10);
  });
});
