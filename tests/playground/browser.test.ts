// The playground in a real browser: Debian's headless Chromium, driven by playwright-core, with a fake microphone
// that plays a WAV of caller speech (espeak-ng, or the emulator's synthetic speech without it) in a loop. The page
// talks to the real gateway over the Plivo stream route; the Gemini emulator plays the agent.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import type { EmulatedSession } from '../../src/emulators/gemini-live/index.ts';
import { renderAudio } from '../../src/emulators/gemini-live/speech.ts';
import { encodeWav } from '../../src/emulators/gemini-live/wav.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const SKIP_REASON = `skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
if (!hasChromium) console.warn(`playground browser test ${SKIP_REASON}`);

interface PageState {
  ready?: boolean;
  error?: string;
  stats: { mediaSent: number; playAudio: number; clearAudio: number; clearedAudio: number; lastClearAt: number };
  meter: { max: number; log: Array<{ t: number; rms: number }> };
  latencies: number[];
  ended?: { reason: string; recordId: string };
}

// The callback runs in the page; tsconfig has no DOM types, so the page's global is reached through globalThis.
const state = (page: Page) => page.evaluate(() => (globalThis as unknown as { playground: PageState }).playground);

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!hasChromium)(`playground in headless Chromium${hasChromium ? '' : ` (${SKIP_REASON})`}`, () => {
  let stack: LocalStack;
  let browser: BrowserContext;
  let dir: string;
  const speechStarts: number[] = [];
  const sessions: EmulatedSession[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'playground-'));
    // The fake microphone loops this file: 0.3 s quiet, the caller's line, then 6 s of quiet for the agent.
    const line = await renderAudio({ kind: 'speech' }, 'Hello, where is my order?', {
      mode: 'auto',
      voice: 'en-us',
      baseDir: dir,
    });
    const rate = 24_000;
    const pcm = new Int16Array(Math.round(rate * 0.3) + line.length + rate * 6);
    pcm.set(line, Math.round(rate * 0.3));
    const wav = join(dir, 'caller.wav');
    await writeFile(wav, encodeWav(pcm, rate));

    stack = await startLocalStack({
      scenario: join(import.meta.dirname, 'scenario.json'),
      playground: true,
      env: { TRANSFER_NUMBER: '+14155550199' },
    });
    stack.gemini.on('session', (s: EmulatedSession) => {
      sessions.push(s);
      s.on('speechStart', () => speechStarts.push(Date.now()));
    });
    // A fresh profile per run (playwright takes it as launchPersistentContext's userDataDir).
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      viewport: { width: 1280, height: 1040 },
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${wav}`,
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('speaks to the agent through the Plivo stream path: VAD, playback, barge-in, transcript, end_call', async () => {
    const page = await browser.newPage();
    // Without the token the page is refused.
    const refused = await page.goto(`${stack.base}/playground`);
    expect(refused?.status()).toBe(401);
    // Page errors and failed requests (the favicon Chromium asks for on its own is not the page's).
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text());
    });
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) consoleErrors.push(`${r.status()} ${r.url()}`);
    });

    await page.goto(`${stack.base}/playground?token=${encodeURIComponent(stack.playground!.token)}`);
    await until('the page to load its options', async () => (await state(page)).ready);
    await page.click('#start');

    // The caller's speech crosses the page, the gateway's stream route and DSP, and the emulator's VAD hears it.
    await until('the Gemini emulator to detect caller speech', async () => speechStarts.length > 0);
    expect(sessions[0]?.audioInMs ?? 0).toBeGreaterThan(100);

    // The agent's answer is played by the page: measured on the page's AnalyserNode.
    const played = await until('agent audio in the page', async () => {
      const s = await state(page);
      return s.meter.max > 0.02 ? s : undefined;
    });
    expect(played.stats.playAudio).toBeGreaterThan(0);

    // The loop brings the caller's line back while the long answer plays: barge-in clears the page's buffer.
    const cleared = await until(
      'a barge-in clear',
      async () => {
        const s = await state(page);
        return s.stats.clearedAudio > 0 ? s : undefined;
      },
      30_000,
    );
    expect(cleared.stats.clearAudio).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    const after = await state(page);
    const clearAt = after.stats.lastClearAt;
    const before = after.meter.log.filter((p) => p.t > clearAt - 600 && p.t < clearAt);
    const quiet = after.meter.log.filter((p) => p.t > clearAt + 120 && p.t < clearAt + 450);
    expect(before.some((p) => p.rms > 0.01)).toBe(true);
    expect(quiet.length).toBeGreaterThan(3);
    expect(Math.max(...quiet.map((p) => p.rms))).toBeLessThan(0.003);

    // The agent says goodbye and calls end_call: the session ends cleanly, the page shows it.
    const ended = await until(
      'the agent to end the call',
      async () => {
        const s = await state(page);
        return s.ended;
      },
      30_000,
    );
    expect(ended.reason).toBe('resolved');
    await until('the page to show the end', async () => (await page.textContent('#status'))?.includes('Call ended'));

    // Both sides in the transcript, the tool call with its result, latency measured.
    const caller = await page.locator('#transcript li.caller .text').allTextContents();
    const agent = await page.locator('#transcript li.agent .text').allTextContents();
    const tools = await page.locator('#transcript li.tool').allTextContents();
    // The caller's words in order. An utterance heard during the greeting (which cannot be interrupted) arrives as
    // partials interleaved with the agent's words, so each partial opens its own bubble: any word may start one.
    expect(caller.join(' ')).toMatch(/Hello,.*where.*is.*my.*order/);
    expect(agent.join(' ')).toMatch(/Let.*me.*check.*that.*for.*you/);
    expect(tools.join(' ')).toContain('check_order_status');
    expect(tools.join(' ')).toContain('ORD-1001');
    expect((await state(page)).latencies.length).toBeGreaterThan(0);

    // The same call lifecycle as a phone call: a record with the playground direction, tools, final status.
    const record = await until('the call record', async () => {
      const r = await stack.store.get(ended.recordId);
      return r?.status === 'completed' ? r : undefined;
    });
    expect(record.direction).toBe('playground');
    expect(record.from).toBe('browser');
    expect(record.toolCalls.map((t) => t.name)).toEqual(['check_order_status', 'send_sms', 'end_call']);
    // send_sms landed on the simulated phone in the page, nothing reached Plivo.
    expect(await page.textContent('#phone-log')).toContain('tracking 1Z999AA10123456784');
    expect(record.transcript.length).toBeGreaterThanOrEqual(3);
    expect(stack.plivo.requests.length).toBe(0); // nothing reached Plivo

    if (process.env.PLAYGROUND_SCREENSHOT) await page.screenshot({ path: process.env.PLAYGROUND_SCREENSHOT });
    expect(consoleErrors).toEqual([]);
    await page.close();
  }, 90_000);
});
