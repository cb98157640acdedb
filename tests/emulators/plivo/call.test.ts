import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  encodeWav,
  type PlivoEmulator,
  type PlivoEmulatorExtras,
  startPlivoEmulator,
} from '../../../src/emulators/plivo/index.ts';
import { expectedSignature, FakeGateway, type FakeGatewayOptions } from './fake-gateway.ts';

const ID = 'MAEMULATOR0000000000';
const TOKEN = 'emulator-auth-token';

let emu: (PlivoEmulator & PlivoEmulatorExtras) | undefined;
let gw: FakeGateway | undefined;

afterEach(async () => {
  await emu?.close();
  gw?.close();
  emu = undefined;
  gw = undefined;
});

async function setup(gwOpts: FakeGatewayOptions = {}) {
  gw = await new FakeGateway(gwOpts).listen();
  emu = await startPlivoEmulator({ authId: ID, authToken: TOKEN });
  return { gw, emu };
}

function inbound(extra: Record<string, unknown> = {}) {
  return emu!.placeInboundCall({
    answerUrl: `${gw!.httpBase}/answer`,
    hangupUrl: `${gw!.httpBase}/hangup`,
    from: '+14155550100',
    to: '+14155550101',
    ...extra,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}
const ulaw = (n: number, byte = 0x55) => new Uint8Array(n).fill(byte);

describe('simulated inbound call', () => {
  it('signs the answer webhook, opens the stream, sends start and paced media, hangs up', async () => {
    await setup();
    const call = await inbound({ callUuid: 'call-1' });
    const answer = await gw!.waitWebhook((w) => w.path === '/answer');
    expect(answer.method).toBe('POST');
    expect(answer.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(answer.body).toMatchObject({
      CallUUID: 'call-1',
      From: '14155550100',
      To: '14155550101',
      Direction: 'inbound',
      CallStatus: 'ringing',
    });
    const nonce = answer.headers['x-plivo-signature-v3-nonce']!;
    expect(answer.headers['x-plivo-signature-v3']).toBe(
      await expectedSignature(TOKEN, 'POST', answer.url, nonce, answer.body),
    );

    const stream = await gw!.waitStream('call-1');
    // The upgrade is signed as a GET over the http form of the URL in the XML, query included.
    const wsUrl = `${gw!.httpBase}/stream/call-1?a=1&b=2`;
    expect(stream.headers['x-plivo-signature-v3']).toBe(
      await expectedSignature(TOKEN, 'GET', wsUrl, stream.headers['x-plivo-signature-v3-nonce']!, {}),
    );
    expect(call.streamUrl).toBe(`${gw!.wsBase}/stream/call-1?a=1&b=2`);
    expect(call.streamAttributes).toMatchObject({ bidirectional: 'true', keepCallAlive: 'true' });

    const start = await stream.waitFor('start');
    expect(start).toMatchObject({
      event: 'start',
      sequenceNumber: 1,
      start: {
        callId: 'call-1',
        streamId: call.streamId,
        accountId: ID,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
      },
    });
    await call.sendAudio({ kind: 'tone', hz: 440, ms: 200 });
    await stream.waitFor('media', (m) => (m.media as { chunk: number }).chunk >= 10);
    const media = stream.messages.filter((m) => m.event === 'media') as Array<{
      sequenceNumber: number;
      streamId: string;
      media: { track: string; timestamp: string; chunk: number; payload: string };
    }>;
    expect(media.length).toBeGreaterThanOrEqual(10);
    media.forEach((m, i) => {
      expect(m.sequenceNumber).toBe(i + 2);
      expect(m.media.chunk).toBe(i + 1);
      expect(m.streamId).toBe(call.streamId);
      expect(m.media.track).toBe('inbound');
      expect(typeof m.media.timestamp).toBe('string');
      expect(Buffer.from(m.media.payload, 'base64')).toHaveLength(160);
    });

    call.sendDtmf('5#');
    const dtmf = await stream.waitFor('dtmf', (m) => (m.dtmf as { digit: string }).digit === '#');
    expect(dtmf).toMatchObject({ streamId: call.streamId, dtmf: { track: 'inbound', digit: '#' } });
    expect(() => call.sendDtmf('x')).toThrow(/DTMF/);

    await call.hangup();
    await stream.waitClosed();
    expect(stream.messages.at(-1)).toMatchObject({ event: 'stop', streamId: call.streamId });
    expect(await call.ended).toMatchObject({ by: 'emulator', code: 1000 });
    const hangup = await gw!.waitWebhook((w) => w.path === '/hangup');
    expect(hangup.body).toMatchObject({
      CallUUID: 'call-1',
      CallStatus: 'completed',
      HangupCause: 'NORMAL_CLEARING',
      HangupSource: 'Caller',
      Event: 'Hangup',
    });
    for (const k of ['Duration', 'BillDuration', 'StartTime', 'AnswerTime', 'EndTime'])
      expect(hangup.body[k]).toBeTruthy();
    expect(hangup.headers['x-plivo-signature-v3']).toBe(
      await expectedSignature(TOKEN, 'POST', hangup.url, hangup.headers['x-plivo-signature-v3-nonce']!, hangup.body),
    );
    expect(call.errors).toEqual([]);
  });

  it('records what the gateway plays, in order, with receive times', async () => {
    await setup({ echo: true });
    const call = await inbound({ idleMedia: 'none' });
    await call.sendAudio({ kind: 'tone', hz: 1000, ms: 400, amplitude: 0.5 });
    await until(() => call.played.length >= 20);
    const played = call.playedUlaw();
    expect(played.length).toBe(3200);
    const pcm = call.playedPcm8k();
    expect(Math.max(...pcm)).toBeGreaterThan(12000);
    const at = call.played.map((c) => c.at);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    for (const c of call.played) expect(c.endAt - c.startAt).toBeCloseTo(20, 5);
    expect(call.received.filter((e) => e.event === 'playAudio')).toHaveLength(20);
  });

  it('streams a WAV file at another rate, converted to the stream format', async () => {
    await setup({ echo: true });
    const dir = await mkdtemp(join(tmpdir(), 'plivo-wav-'));
    try {
      const path = join(dir, 'in.wav');
      const samples = new Int16Array(16000 * 0.3);
      for (let i = 0; i < samples.length; i++)
        samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 500 * i) / 16000));
      await writeFile(path, encodeWav(samples, 16000));
      const call = await inbound({ idleMedia: 'none', recordPlayed: false });
      await call.sendAudio({ kind: 'wav', path });
      const impl = emu!.call(call.callUuid)!;
      await until(() => impl.stats.playAudio >= 15);
      expect(impl.stats.playedBytes).toBe(15 * 160);
      expect(impl.stats.firstPlayAt).toBeGreaterThan(0);
      // recordPlayed: false keeps counters only.
      expect(call.played).toHaveLength(0);
      expect(call.received.some((e) => e.event === 'playAudio')).toBe(false);
      await expect(call.sendAudio({ kind: 'wav', path: join(dir, 'missing.wav') })).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('acknowledges a checkpoint only when the audio before it has played', async () => {
    await setup();
    const call = await inbound();
    const stream = await gw!.waitStream(call.callUuid);
    stream.send({ event: 'checkpoint', streamId: call.streamId, name: 'empty' });
    await call.waitForEvent('checkpoint');
    const t0 = performance.now();
    stream.playUlaw(ulaw(4000)); // 500 ms
    stream.send({ event: 'checkpoint', streamId: call.streamId, name: 'turn-1' });
    const empty = await stream.waitFor('playedStream', (m) => m.name === 'empty');
    expect(empty).toMatchObject({ streamId: call.streamId });
    await stream.waitFor('playedStream', (m) => m.name === 'turn-1');
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(480);
    const lastChunk = call.played.at(-1)!;
    expect(lastChunk.endAt - call.played[0]!.startAt).toBeCloseTo(500, 5);
  });

  it('clears un-played audio on clearAudio and never acknowledges the checkpoint before it', async () => {
    await setup();
    const call = await inbound();
    const stream = await gw!.waitStream(call.callUuid);
    stream.playUlaw(ulaw(8000)); // 1 s
    stream.send({ event: 'checkpoint', streamId: call.streamId, name: 'doomed' });
    await call.waitForEvent('checkpoint');
    await sleep(200);
    stream.send({ event: 'clearAudio', streamId: call.streamId });
    await stream.waitFor('clearedAudio');
    const kept = call.playedUlaw().length;
    expect(kept).toBeGreaterThan(800);
    expect(kept).toBeLessThan(7900);
    // New audio after the clear plays at once and its checkpoint is acknowledged.
    stream.playUlaw(ulaw(160, 0x11));
    stream.send({ event: 'checkpoint', streamId: call.streamId, name: 'after' });
    await stream.waitFor('playedStream', (m) => m.name === 'after');
    expect(stream.messages.some((m) => m.event === 'playedStream' && m.name === 'doomed')).toBe(false);
    expect(call.playedUlaw().length).toBe(kept + 160);
    expect(call.errors).toEqual([]);
  });

  it('flags playAudio that Plivo would reject (incorrectPayload) and does not play it', async () => {
    await setup();
    const call = await inbound();
    const stream = await gw!.waitStream(call.callUuid);
    const payload = Buffer.from(ulaw(160)).toString('base64');
    const bad = [
      { contentType: 'audio/x-mulaw;rate=8000', sampleRate: 8000, payload },
      { contentType: 'audio/x-mulaw', payload },
      { contentType: 'audio/x-mulaw', sampleRate: '8000', payload },
      { contentType: 'audio/x-mulaw', sampleRate: 16000, payload },
      { contentType: 'audio/x-l16', sampleRate: 8000, payload },
      { contentType: 'audio/x-mulaw', sampleRate: 8000, payload: Buffer.from(ulaw(320)).toString('base64') },
      { contentType: 'audio/x-mulaw', sampleRate: 8000, payload: 'not base64!' },
      { contentType: 'audio/x-mulaw', sampleRate: 8000, payload: '' },
    ];
    for (const media of bad) stream.send({ event: 'playAudio', media });
    stream.send({ event: 'playAudio' });
    stream.send({ event: 'playAudio', media: { contentType: 'audio/x-mulaw', sampleRate: 8000, payload } });
    stream.send({ event: 'checkpoint', streamId: call.streamId, name: 'end' });
    await stream.waitFor('playedStream');
    const incorrect = call.errors.filter((e) => e.startsWith('incorrectPayload'));
    expect(incorrect).toHaveLength(bad.length + 1);
    expect(incorrect.join('\n')).toMatch(/contentType "audio\/x-mulaw;rate=8000"/);
    expect(incorrect.join('\n')).toMatch(/320 bytes/);
    expect(call.playedUlaw()).toHaveLength(160);
  });

  it('flags bad JSON, binary frames, unknown events and wrong stream ids from the gateway', async () => {
    await setup();
    const call = await inbound();
    const stream = await gw!.waitStream(call.callUuid);
    stream.send('{not json');
    stream.send('[1,2]');
    stream.send({ event: 'danceParty' });
    stream.send({ event: 'clearAudio', streamId: 'someone-else' });
    stream.send({ event: 'checkpoint', streamId: call.streamId });
    stream.send({ event: 'sendDTMF', dtmf: 'xyz' });
    stream.send({ event: 'sendDTMF', dtmf: '12#' });
    await call.waitForEvent('sendDTMF', (m) => (m as { dtmf: string }).dtmf === '12#');
    expect(call.errors).toEqual([
      expect.stringMatching(/bad JSON/),
      expect.stringMatching(/without an "event"/),
      expect.stringMatching(/unknown event "danceParty"/),
      expect.stringMatching(/clearAudio for unknown streamId/),
      expect.stringMatching(/checkpoint without a name/),
      expect.stringMatching(/sendDTMF with invalid digits/),
    ]);
    expect(stream.messages.some((m) => m.event === 'clearedAudio')).toBe(false);
  });

  it('sends raw text and binary frames for the gateway bad-input tests', async () => {
    await setup();
    const call = await inbound();
    const stream = await gw!.waitStream(call.callUuid);
    call.sendRaw('garbage{');
    call.sendRaw(new Uint8Array([1, 2, 3]), { binary: true });
    const raws = [
      await stream.waitFor('#raw', (m) => m.isBinary === false),
      await stream.waitFor('#raw', (m) => m.isBinary === true),
    ];
    expect(raws[0]!.text).toBe('garbage{');
    expect(raws[1]!.text).toBe('\x01\x02\x03');
  });

  it('ends the call when the gateway closes the stream and reports it to hangup_url', async () => {
    await setup();
    const call = await inbound();
    const stream = await gw!.waitStream(call.callUuid);
    stream.close(1000);
    expect(await call.ended).toMatchObject({ by: 'gateway', code: 1000 });
    await call.completed;
    expect(call.status).toBe('completed');
    const hangup = await gw!.waitWebhook((w) => w.path === '/hangup');
    expect(hangup.body).toMatchObject({ HangupSource: 'Answer XML', CallStatus: 'completed' });
  });

  it('hangs up right away when keepCallAlive is not set, as Plivo does once the XML runs out', async () => {
    await setup({
      answerXml: (p, g) => g.defaultXml(p.CallUUID!, 'bidirectional="true" contentType="audio/x-mulaw;rate=8000"'),
    });
    const call = await inbound();
    await call.completed;
    expect(call.errors.join()).toMatch(/keepCallAlive/);
    expect(call.hangupParams).toMatchObject({ HangupSource: 'Answer XML' });
  });

  it('sends an invalid signature or none when asked', async () => {
    await setup();
    const c1 = await inbound({ signature: 'invalid' });
    const w1 = await gw!.waitWebhook((w) => w.path === '/answer' && w.params.CallUUID === c1.callUuid);
    const nonce = w1.headers['x-plivo-signature-v3-nonce']!;
    expect(nonce).toBeTruthy();
    expect(w1.headers['x-plivo-signature-v3']).not.toBe(await expectedSignature(TOKEN, 'POST', w1.url, nonce, w1.body));
    const c2 = await inbound({ signature: 'none' });
    const w2 = await gw!.waitWebhook((w) => w.path === '/answer' && w.params.CallUUID === c2.callUuid);
    expect(w2.headers['x-plivo-signature-v3']).toBeUndefined();
    expect((await gw!.waitStream(c2.callUuid)).headers['x-plivo-signature-v3']).toBeUndefined();
  });

  it('fails the call when the answer webhook is rejected or returns bad XML', async () => {
    await setup({ webhookStatus: 403 });
    const c1 = await inbound({ signature: 'invalid' });
    await c1.completed;
    expect(c1.answerStatus).toBe(403);
    expect(c1.status).toBe('failed');
    expect(c1.streamId).toBeUndefined();
    expect(c1.errors[0]).toMatch(/answer webhook failed: HTTP 403/);
    gw!.close();
    await setup({ answerXml: () => '<Response><Stream>ws://x' });
    const c2 = await inbound();
    await c2.completed;
    expect(c2.errors[0]).toMatch(/invalid answer XML/);
    const c3 = await emu!.placeInboundCall({ answerUrl: 'http://127.0.0.1:1/answer', from: '1415', to: '1416' });
    await c3.completed;
    expect(c3.errors[0]).toMatch(/answer webhook failed/);
  });

  it('retries a stream that cannot connect, then drops it', async () => {
    await setup({
      answerXml: () =>
        '<Response><Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000" statusCallbackUrl="http://127.0.0.1:' +
        gw!.port +
        '/status">ws://127.0.0.1:1/nothing</Stream></Response>',
    });
    const call = await inbound();
    expect(call.errors.join('\n')).toMatch(/after 3 attempts/);
    await gw!.waitWebhook((w) => w.path === '/status' && w.params.Event === 'DroppedStream');
    await call.completed;
  });

  it('posts stream status callbacks', async () => {
    await setup({
      answerXml: (p, g) =>
        g.defaultXml(
          p.CallUUID!,
          `bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000" statusCallbackUrl="${g.httpBase}/status"`,
        ),
    });
    const call = await inbound();
    await gw!.waitWebhook((w) => w.path === '/status' && w.params.Event === 'StartStream');
    await call.hangup();
    const stop = await gw!.waitWebhook((w) => w.path === '/status' && w.params.Event === 'StopStream');
    expect(stop.params).toMatchObject({ CallUUID: call.callUuid, StreamID: call.streamId });
  });

  it('runs an L16 16 kHz stream', async () => {
    await setup({
      answerXml: (p, g) =>
        g.defaultXml(p.CallUUID!, 'bidirectional="true" keepCallAlive="true" contentType="audio/x-l16;rate=16000"'),
    });
    const call = await inbound();
    const stream = await gw!.waitStream(call.callUuid);
    const start = await stream.waitFor('start');
    expect(start.start).toMatchObject({ mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000 } });
    const media = await stream.waitFor('media');
    expect(Buffer.from((media.media as { payload: string }).payload, 'base64')).toHaveLength(640);
    const pcm = new Int16Array(1600).fill(1000);
    stream.send({
      event: 'playAudio',
      media: { contentType: 'audio/x-l16', sampleRate: 16000, payload: Buffer.from(pcm.buffer).toString('base64') },
    });
    stream.send({ event: 'playAudio', media: { contentType: 'audio/x-mulaw', sampleRate: 8000, payload: 'AAAA' } });
    await call.waitForEvent('playAudio', (m) => (m as { media: { sampleRate: number } }).media.sampleRate === 8000);
    expect(call.playedPcm().samples).toHaveLength(1600);
    expect(call.playedPcm8k()).toHaveLength(800);
    expect(call.playedUlaw()).toHaveLength(800);
    expect(call.errors).toEqual([expect.stringMatching(/does not match the stream/)]);
  });

  it('stops reading the socket on pauseReading (backpressure) and catches up on resume', async () => {
    await setup();
    const call = await inbound();
    const stream = await gw!.waitStream(call.callUuid);
    await sleep(50);
    call.pauseReading();
    await sleep(20);
    const before = call.received.length;
    for (let i = 0; i < 200; i++) stream.send({ event: 'sendDTMF', dtmf: '1' });
    await sleep(150);
    expect(call.received.length).toBe(before);
    call.resumeReading();
    await until(() => call.received.length >= before + 200);
    expect(call.received.length).toBe(before + 200);
  });

  it('transfers a call through the REST API: fetches aleg_url, records the Dial target, ends the stream', async () => {
    await setup();
    const call = await inbound();
    const stream = await gw!.waitStream(call.callUuid);
    const res = await fetch(`${emu!.restBaseUrl}/v1/Account/${ID}/Call/${call.callUuid}/`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${ID}:${TOKEN}`).toString('base64')}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ legs: 'aleg', aleg_url: `${gw!.httpBase}/transfer`, aleg_method: 'POST' }),
    });
    expect(res.status).toBe(202);
    await stream.waitClosed();
    await call.completed;
    expect(call.transferredTo).toEqual(['14155550199']);
    expect(call.transferXml).toMatch(/<Dial>/);
    expect(stream.messages.at(-1)).toMatchObject({ event: 'stop' });
  });

  it('runs transferred XML with a <Stream>: a new stream for the same call, which stays up (no hangup)', async () => {
    await setup();
    const call = await inbound();
    const first = await gw!.waitStream(call.callUuid);
    const res = await fetch(`${emu!.restBaseUrl}/v1/Account/${ID}/Call/${call.callUuid}/`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${ID}:${TOKEN}`).toString('base64')}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ legs: 'aleg', aleg_url: `${gw!.httpBase}/resume`, aleg_method: 'POST' }),
    });
    expect(res.status).toBe(202);
    await first.waitClosed();
    expect(first.messages.at(-1)).toMatchObject({ event: 'stop' });
    const second = await gw!.waitStream(`${call.callUuid}-moved`);
    await new Promise((r) => setTimeout(r, 200));
    expect(call.status).toBe('in-progress');
    expect(gw!.webhooks.some((w) => w.path === '/hangup')).toBe(false);
    expect(second.messages[0]).toMatchObject({ event: 'start', start: { callId: call.callUuid } });
    await call.hangup();
    await call.completed;
    expect(gw!.webhooks.filter((w) => w.path === '/hangup')).toHaveLength(1);
  });

  it('answers inbound calls through the application attached to the number', async () => {
    await setup();
    const app = await fetch(`${emu!.restBaseUrl}/v1/Account/${ID}/Application/`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`${ID}:${TOKEN}`).toString('base64')}` },
      body: new URLSearchParams({
        app_name: 'gw',
        answer_url: `${gw!.httpBase}/answer`,
        hangup_url: `${gw!.httpBase}/hangup`,
      }),
    });
    const { app_id } = (await app.json()) as { app_id: string };
    emu!.numbers.set('14155550101', app_id);
    const call = await emu!.placeInboundCall({ from: '+14155550100', to: '+14155550101' });
    expect(call.streamId).toBeDefined();
    await expect(emu!.placeInboundCall({ from: '+14155550100', to: '+19999999999' })).rejects.toThrow(/no answerUrl/);
  });
});
