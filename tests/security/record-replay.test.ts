// D2 on the whole stack (CallManager, call store, Gemini Live emulator): after a call, its captured stream URL
// and a re-signed /answer get nothing: no frames, no new Gemini session primed with the call's data, and the stored
// record (transcript, end reason) stays as the genuine call left it.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import { signV3 } from '../../src/plivo/signature.ts';
import { heardAll, SCENARIOS, until } from '../e2e/helpers.ts';
import { attackStream } from './attack-stream.ts';

let stack: LocalStack | undefined;
afterAll(async () => {
  await stack?.close();
});

describe('replaying a finished call', () => {
  it('gets no frames, no Gemini session, and leaves the stored record untouched', async () => {
    stack = await startLocalStack({ scenario: join(SCENARIOS, 'test-tools.json'), gemini: { speech: 'synthetic' } });
    const call = await stack.placeCall({ idleMedia: 'silence' });
    await until(() => call.played.length > 10, 5000, 'greeting audio');
    await heardAll(call);
    await call.hangup();
    await stack.callEnded(call.callUuid, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const before = JSON.stringify(await stack.store.get(call.callUuid));
    const sessions = stack.gemini.sessions.length;

    const stream = await attackStream(call.streamUrl!, call.callUuid, 2000);
    const nonce = `${Date.now()}`;
    const params = { CallUUID: call.callUuid, From: '14155550123', To: '14155550100', Direction: 'inbound' };
    const answer = await fetch(`${stack.base}/answer`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-plivo-signature-v3': signV3(
          'emulator-auth-token',
          'POST',
          `${stack.base}/answer`,
          nonce,
          Object.entries(params),
        ),
        'x-plivo-signature-v3-nonce': nonce,
      },
      body: new URLSearchParams(params).toString(),
    });
    await new Promise((r) => setTimeout(r, 500));

    // The replay guard's answer after the open: already served (4409) or the call has ended (4410).
    expect([4409, 4410]).toContain(stream.refused);
    expect(stream.frames).toBe(0);
    expect(answer.status).toBe(409);
    expect(stack.gemini.sessions.length).toBe(sessions);
    expect(JSON.stringify(await stack.store.get(call.callUuid))).toBe(before);
  });
});
