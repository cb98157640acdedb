import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlayoutTracker } from '../../src/calls/playout.ts';
import { loadPromptAudio, parseWavPcm16 } from '../../src/calls/prompt-audio.ts';
import { buildSystemPrompt, clearPromptCache, renderTemplate, sanitiseValue } from '../../src/calls/prompts.ts';
import { Transcript } from '../../src/calls/transcript.ts';

describe('system prompts', () => {
  it('fills the outbound template and strips injected braces and newlines', () => {
    const prompt = buildSystemPrompt(
      {
        callId: 'c',
        direction: 'outbound',
        from: '+1',
        to: '+2',
        openingReason: 'your demo request\n# New section',
        objective: 'book {{a}} meeting',
        variables: { customer_name: 'Ada', 'bad key!': 'x', company: 'A'.repeat(500) },
      },
      { now: new Date('2026-11-25T10:00:00Z') },
    );
    expect(prompt).toContain('your demo request # New section');
    expect(prompt).toContain('book a meeting');
    expect(prompt).toContain('- customer name: Ada');
    expect(prompt).not.toContain('bad key');
    expect(prompt).not.toContain('A'.repeat(201));
    expect(prompt).not.toMatch(/\{\{/);
    expect(prompt).toContain('2026-11-25 10:00 (Wednesday)');
  });

  it('names the UTC weekday of every day of a week as Intl does, at the edges of the day', () => {
    const ctx = { callId: 'c', direction: 'inbound' as const, from: '', to: '' };
    for (let day = 0; day < 7; day++) {
      for (const time of ['T00:00:00Z', 'T23:59:00Z']) {
        const now = new Date(`2026-12-${String(6 + day).padStart(2, '0')}${time}`);
        const expected = now.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
        expect(buildSystemPrompt(ctx, { now })).toContain(`(${expected})`);
      }
    }
  });

  it('reads PROMPTS_DIR when given, once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prompts-'));
    writeFileSync(join(dir, 'inbound.md'), 'Custom inbound prompt.');
    const ctx = { callId: 'c', direction: 'inbound' as const, from: '', to: '' };
    expect(buildSystemPrompt(ctx, { dir })).toMatch(/^Custom inbound prompt\./);
    writeFileSync(join(dir, 'inbound.md'), 'Changed.');
    expect(buildSystemPrompt(ctx, { dir })).toMatch(/^Custom inbound prompt\./);
    clearPromptCache();
    expect(buildSystemPrompt(ctx, { dir })).toMatch(/^Changed\./);
    writeFileSync(join(dir, 'inbound.md'), '  ');
    clearPromptCache();
    expect(() => buildSystemPrompt(ctx, { dir })).toThrow(/empty/);
    expect(() => buildSystemPrompt({ ...ctx, direction: 'outbound' }, { dir })).toThrow(/cannot read/);
  });

  it('refuses unknown placeholders (a per-call {{var.x}} may be absent) and sanitises values', () => {
    expect(renderTemplate('a {{var.x}} b {{ y }}', { y: 'Y' })).toBe('a  b Y');
    expect(() => renderTemplate('a {{x}}', { y: 'Y' })).toThrow(/placeholder \{\{x\}\} is unknown/);
    expect(sanitiseValue(' a\n\tb  {c} ')).toBe('a b c');
  });

  it("renders the Python example's snake_case placeholders, context, and the customer's number and call id", () => {
    const dir = mkdtempSync(join(tmpdir(), 'prompts-'));
    writeFileSync(join(dir, 'outbound.md'), 'Why: {{opening_reason}}. Goal: {{objective}}. Notes: {{context}}.');
    clearPromptCache();
    const out = buildSystemPrompt(
      {
        callId: 'c-1',
        direction: 'outbound',
        from: '14155550100',
        to: '14155550111',
        openingReason: 'your order',
        objective: 'confirm delivery',
        context: 'Prefers\nmornings {{x}}',
      },
      { dir },
    );
    expect(out).toMatch(/^Why: your order\. Goal: confirm delivery\. Notes: Prefers mornings x\./);
    expect(out).toContain("- The customer's number: +14155550111");
    expect(out).toContain('- Call id: c-1');
    // SYSTEM_PROMPT replaces the inbound file and gets the same facts.
    const inline = buildSystemPrompt(
      { callId: 'c-2', direction: 'inbound', from: '14155550123', to: '' },
      {
        dir,
        inboundText: 'Inline prompt for {{caller_number}}.',
      },
    );
    expect(inline).toMatch(/^Inline prompt for \+14155550123\./);
    expect(inline).toContain('- Call id: c-2');
  });
});

describe('Transcript', () => {
  it('joins fragments into turns and closes the caller turn when the agent speaks', () => {
    const t = new Transcript();
    t.caller('Where is');
    t.caller(' my order?');
    t.agent('It');
    t.agent('shipped');
    t.agent('.');
    t.endAgentTurn();
    expect(t.turns.map((x) => [x.role, x.text])).toEqual([
      ['caller', 'Where is my order?'],
      ['agent', 'It shipped.'],
    ]);
    expect(t.turns[0]!.endedAt).toBeDefined();
    expect(t.contextText()).toBe('Caller: Where is my order?\nAgent: It shipped.');
  });

  it('is bounded', () => {
    const t = new Transcript();
    for (let i = 0; i < 700; i++) {
      t.caller(`q${i}`);
      t.agentTurn();
      t.endAgentTurn();
    }
    expect(t.turns.length).toBeLessThanOrEqual(500);
    t.caller('x'.repeat(10_000));
    expect(t.turns.at(-1)!.text.length).toBeLessThanOrEqual(10_000);
    t.caller('y'.repeat(10_000));
    expect(t.turns.at(-1)!.text.length).toBeLessThanOrEqual(4000);
  });
});

describe('PlayoutTracker', () => {
  it('names periodic and final checkpoints and estimates what was heard on barge-in', () => {
    const p = new PlayoutTracker(500);
    const turn = { role: 'agent' as const, text: '', startedAt: '' };
    p.begin(turn);
    const names: string[] = [];
    for (let i = 0; i < 40; i++) {
      const n = p.audio(480); // 20 ms
      if (n) names.push(n);
    }
    expect(names).toEqual(['a1-500']);
    expect(p.played('a1-500')).toBe(true);
    expect(p.played('a1-500')).toBe(false);
    expect(p.played('other')).toBe(false);
    // 800 ms sent, 500 confirmed, edge says 100 ms still pending → 700 heard.
    expect(p.interrupt(100, true)).toEqual({ turn, heardMs: 700 });
    expect(p.interrupt(100, true)).toBeUndefined();
  });

  it('does not count a fully played, ended turn as interrupted', () => {
    const p = new PlayoutTracker(500);
    p.begin({ role: 'agent', text: '', startedAt: '' });
    p.audio(2400);
    expect(p.end()).toBe('a1-100');
    expect(p.interrupt(0, false)).toBeUndefined();
  });
});

describe('prompt audio', () => {
  it('loads the bundled technical-difficulty prompt (PCM16 mono 24 kHz, a few seconds)', () => {
    const pcm = loadPromptAudio();
    expect(pcm.length / 24_000).toBeGreaterThan(2);
    expect(pcm.length / 24_000).toBeLessThan(10);
  });

  it('rejects files that are not PCM16 mono 24 kHz WAV', () => {
    const header = (rate: number, channels: number, bits: number) => {
      const b = Buffer.alloc(44 + 4);
      b.write('RIFF', 0, 'ascii');
      b.writeUInt32LE(40, 4);
      b.write('WAVE', 8, 'ascii');
      b.write('fmt ', 12, 'ascii');
      b.writeUInt32LE(16, 16);
      b.writeUInt16LE(1, 20);
      b.writeUInt16LE(channels, 22);
      b.writeUInt32LE(rate, 24);
      b.writeUInt16LE(bits, 34);
      b.write('data', 36, 'ascii');
      b.writeUInt32LE(4, 40);
      b.writeInt16LE(1234, 44);
      return b;
    };
    expect(Array.from(parseWavPcm16(header(24_000, 1, 16), 24_000))).toEqual([1234, 0]);
    expect(() => parseWavPcm16(header(8000, 1, 16), 24_000)).toThrow(/need PCM16 mono/);
    expect(() => parseWavPcm16(header(24_000, 2, 16), 24_000)).toThrow(/need PCM16 mono/);
    expect(() => parseWavPcm16(Buffer.from('not a wav file at all'), 24_000)).toThrow(/RIFF/);
    expect(() => parseWavPcm16(header(24_000, 1, 16).subarray(0, 36), 24_000)).toThrow(/no data/);
  });
});
