// The emulator's own building blocks: VAD, WAV, PCM, scenario validation and speech rendering.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, parseScenario } from '../../../src/emulators/gemini-live/index.ts';
import { resample, rmsDbfs, tone } from '../../../src/emulators/gemini-live/pcm.ts';
import { renderText } from '../../../src/emulators/gemini-live/scenario.ts';
import { hasEspeak, renderAudio, syntheticSpeech } from '../../../src/emulators/gemini-live/speech.ts';
import { EnergyVad } from '../../../src/emulators/gemini-live/vad.ts';
import { decodeWav, encodeWav } from '../../../src/emulators/gemini-live/wav.ts';
import { callerUtterance } from './helpers.ts';

function runVad(chunks: Int16Array[], cfg = { thresholdDbfs: -40, minSpeechMs: 100, endSilenceMs: 300 }) {
  const events: string[] = [];
  const vad = new EnergyVad(cfg, {
    onSpeechStart: () => events.push('start'),
    onSpeechEnd: (ms) => events.push(`end:${ms}`),
  });
  for (const c of chunks) vad.push(c, 16_000);
  return { events, vad };
}

function split(pcm: Int16Array, size: number): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i < pcm.length; i += size) out.push(pcm.subarray(i, i + size));
  return out;
}

describe('energy VAD', () => {
  it('finds one utterance whatever the chunking', () => {
    const pcm = callerUtterance(400, 400);
    for (const size of [1, 7, 160, 320, 1000, pcm.length]) {
      expect(runVad(split(pcm, size)).events).toEqual(['start', 'end:400']);
    }
  });

  it('ignores clicks shorter than minSpeechMs and quiet noise', () => {
    expect(runVad([callerUtterance(50, 500)]).events).toEqual([]);
    expect(runVad([tone(16_000, 500, 300, -60)]).events).toEqual([]);
  });

  it('needs endSilenceMs of silence; a short pause keeps the turn open', () => {
    const a = callerUtterance(300, 150);
    const b = callerUtterance(300, 200);
    expect(runVad([a, b]).events).toEqual(['start']);
    const { events, vad } = runVad([a, b, callerUtterance(0, 300)]);
    expect(events).toEqual(['start', 'end:600']);
    expect(vad.inSpeech).toBe(false);
  });

  it('flush ends an open utterance (audioStreamEnd)', () => {
    const { events, vad } = runVad([callerUtterance(300, 0)]);
    vad.flush();
    expect(events).toEqual(['start', 'end:300']);
  });

  it('handles empty input', () => {
    expect(runVad([new Int16Array(0)]).events).toEqual([]);
    expect(rmsDbfs(new Int16Array(0))).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('WAV and PCM', () => {
  it('round-trips PCM16 and reads 8-bit stereo and float', () => {
    const s = tone(8000, 100, 400);
    const back = decodeWav(encodeWav(s, 8000));
    expect(back.sampleRate).toBe(8000);
    expect(back.samples).toEqual(s);

    const stereo8 = Buffer.from(encodeWav(new Int16Array(0), 8000));
    stereo8.writeUInt16LE(2, 22);
    stereo8.writeUInt16LE(8, 34);
    const data = Buffer.from([128, 128, 255, 255, 0, 0]);
    const wav8 = Buffer.concat([stereo8, data]);
    wav8.writeUInt32LE(data.length, 40);
    expect([...decodeWav(wav8).samples]).toEqual([0, 32512, -32768]);
  });

  it('reads streamed WAVs whose sizes were never filled in (espeak-ng --stdout)', () => {
    const w = encodeWav(tone(22_050, 50, 300), 22_050);
    w.writeUInt32LE(0xffffffff, 4);
    w.writeUInt32LE(0xffffffff, 40);
    expect(decodeWav(w).samples.length).toBe(Math.round(22_050 * 0.05));
  });

  it('rejects bad WAV data', () => {
    expect(() => decodeWav(Buffer.from('nope'))).toThrow(/RIFF/);
    expect(() => decodeWav(Buffer.from('RIFF\0\0\0\0WAVEjunk'))).toThrow();
    const noFmt = Buffer.from('RIFF\x10\0\0\0WAVEdata\x04\0\0\0\0\0\0\0', 'latin1');
    expect(() => decodeWav(noFmt)).toThrow(/fmt/);
    const alaw = encodeWav(tone(8000, 10, 400), 8000);
    alaw.writeUInt16LE(6, 20);
    expect(() => decodeWav(alaw)).toThrow(/format/);
  });

  it('resamples to the right length and keeps a tone', () => {
    const up = resample(tone(22_050, 1000, 300, -6), 22_050, 24_000);
    expect(up.length).toBe(24_000);
    expect(rmsDbfs(up)).toBeCloseTo(rmsDbfs(tone(24_000, 1000, 300, -6)), 0);
    expect(resample(tone(48_000, 100, 300), 48_000, 16_000).length).toBe(1600);
  });
});

describe('scenarios', () => {
  const base = { name: 'x', turns: [{ trigger: 'opening', text: 'hi' }] };

  it('ships valid scenarios', () => {
    for (const f of [
      'demo-order-status',
      'test-barge-in',
      'test-go-away-resume',
      'test-resume-refused',
      'test-tools',
      'outbound-reminder',
    ]) {
      expect(loadScenario(`scenarios/${f}.json`).scenario.name).toBe(f);
    }
  });

  it('rejects bad scenarios with a readable message', () => {
    expect(() => parseScenario({ ...base, turns: [] })).toThrow(/turns/);
    expect(() => parseScenario({ ...base, turns: [{ trigger: 'whenever', text: 'x' }] })).toThrow(/trigger/);
    expect(() => parseScenario({ ...base, turns: [{ trigger: 'tool-response', text: 'x' }] })).toThrow(
      /must follow a turn that makes tool calls/,
    );
    expect(() => parseScenario({ ...base, turns: [{ trigger: 'opening' }] })).toThrow(/needs text/);
    expect(() => parseScenario({ ...base, typo: 1 })).toThrow();
    expect(() =>
      parseScenario({
        ...base,
        turns: [{ trigger: 'opening', text: 'x', audio: { kind: 'tone', freqHz: 5, ms: 100 } }],
      }),
    ).toThrow(/freqHz/);
    expect(() => parseScenario('a string')).toThrow();
    // The agent never speaks first: the old session-start trigger (and its delay) fail at load, with the way out.
    expect(() => parseScenario({ ...base, turns: [{ trigger: 'session-start', text: 'hi' }] })).toThrow(
      /turns\.0\.trigger: the session-start trigger was removed.*use "opening"/,
    );
    expect(() => parseScenario({ ...base, startDelayMs: 100 })).toThrow(/startDelayMs was removed/);
    expect(() => parseScenario({ ...base, turns: [...base.turns, { trigger: 'opening', text: 'again' }] })).toThrow(
      /only the first turn can be "opening"/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'gl-emu-'));
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    expect(() => loadScenario(join(dir, 'bad.json'))).toThrow(/cannot read scenario/);
    expect(() => loadScenario(join(dir, 'missing.json'))).toThrow(/cannot read scenario/);
  });

  it('fills placeholders from tool responses, with or without an output wrapper', () => {
    const r = new Map<string, unknown>([
      ['a', { output: { order: { status: 'shipped' } } }],
      ['b', { to: 'number ending in 0100', n: { x: 1 } }],
    ]);
    expect(renderText('{{a.order.status}} / {{b.to}} / {{b.n}} / {{c.d}} / {{a}}', r)).toBe(
      'shipped / number ending in 0100 / {"x":1} / unknown / unknown',
    );
  });
});

describe('speech rendering', () => {
  const ctx = { mode: 'synthetic' as const, voice: 'en-us', baseDir: process.cwd() };

  it('synthetic speech is deterministic, speech-loud and grows with the text', () => {
    const a = syntheticSpeech('Hello there, how are you today?');
    expect(syntheticSpeech('Hello there, how are you today?')).toEqual(a);
    expect(rmsDbfs(a)).toBeGreaterThan(-35);
    expect(syntheticSpeech('Hello there, how are you today? I am fine, thanks for asking.').length).toBeGreaterThan(
      a.length,
    );
  });

  it('renders tones, silence and WAV files (resampled to 24 kHz); a missing WAV fails', async () => {
    expect((await renderAudio({ kind: 'tone', freqHz: 440, ms: 100 }, '', ctx)).length).toBe(2400);
    expect(rmsDbfs(await renderAudio({ kind: 'silence', ms: 50 }, '', ctx))).toBe(Number.NEGATIVE_INFINITY);
    const dir = mkdtempSync(join(tmpdir(), 'gl-emu-'));
    writeFileSync(join(dir, 'a.wav'), encodeWav(tone(8000, 500, 400), 8000));
    const wav = await renderAudio({ kind: 'wav', path: 'a.wav' }, '', { ...ctx, baseDir: dir });
    expect(wav.length).toBe(12_000);
    await expect(renderAudio({ kind: 'wav', path: 'nope.wav' }, '', { ...ctx, baseDir: dir })).rejects.toThrow();
  });

  it.skipIf(process.env.CI_NO_ESPEAK === '1')('uses espeak-ng when present, else falls back to synthetic', async () => {
    const pcm = await renderAudio(undefined, 'Your order has shipped.', { ...ctx, mode: 'auto' });
    expect(pcm.length / 24_000).toBeGreaterThan(0.5);
    expect(rmsDbfs(pcm)).toBeGreaterThan(-45);
    if (await hasEspeak()) expect(pcm).not.toEqual(syntheticSpeech('Your order has shipped.'));
  });
});
