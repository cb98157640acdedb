import { describe, expect, it } from 'vitest';
import { signatureBaseString, signV3, verifyV3 } from '../../src/plivo/signature.ts';
import {
  mintStreamToken,
  mintTransferToken,
  StreamTokenError,
  verifyStreamToken,
  verifyTransferToken,
} from '../../src/plivo/stream-token.ts';
import {
  baseContext,
  normalizeNumber,
  parseAnswer,
  parseHangup,
  WebhookParamsError,
} from '../../src/plivo/webhook-params.ts';
import { dialXml, escapeXml, rejectXml, streamXml } from '../../src/plivo/xml.ts';

describe('X-Plivo-Signature-V3', () => {
  const params: Array<[string, string]> = [
    ['To', '14155550101'],
    ['From', '14155550100'],
    ['CallUUID', 'abc-123'],
    ['CallStatus', 'in-progress'],
  ];

  it('matches the worked example validated against the plivo SDK', () => {
    const url = 'https://gw.example.com/plivo/answer';
    expect(signatureBaseString('POST', url, params)).toBe(
      'https://gw.example.com/plivo/answer?CallStatusin-progressCallUUIDabc-123From14155550100To14155550101',
    );
    expect(signV3('MY_AUTH_TOKEN', 'POST', url, '05429567804466091622', params)).toBe(
      'uWnwBVoBiENYhOvS0Yp6Q8D3sPLavv1TE+6PqCkB3Uw=',
    );
  });

  it('sorts URL query parameters and separates them from the body with a dot', () => {
    expect(signatureBaseString('POST', 'https://h/p?z=1&a=2', [['B', '1']])).toBe('https://h/p?a=2&z=1.B1');
    expect(signatureBaseString('GET', 'https://h/p?z=1&a=2')).toBe('https://h/p?a=2&z=1');
    expect(signatureBaseString('POST', 'https://h/p')).toBe('https://h/p');
  });

  it('accepts any of several comma-separated signatures; rejects missing, wrong and tampered ones', () => {
    const url = 'https://gw.example.com/answer';
    const good = signV3('tok', 'POST', url, 'n1', params);
    const base = { authToken: 'tok', method: 'POST', url, nonce: 'n1', bodyParams: params };
    expect(verifyV3({ ...base, signatures: good })).toEqual({ ok: true });
    expect(verifyV3({ ...base, signatures: `bm90LWl0, ${good}` })).toEqual({ ok: true });
    expect(verifyV3({ ...base, signatures: undefined })).toEqual({ ok: false, reason: 'missing' });
    expect(verifyV3({ ...base, nonce: undefined, signatures: good })).toEqual({ ok: false, reason: 'missing' });
    expect(verifyV3({ ...base, nonce: 'n2', signatures: good })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyV3({ ...base, authToken: 'other', signatures: good })).toMatchObject({ ok: false });
    expect(verifyV3({ ...base, url: 'http://gw.example.com/answer', signatures: good })).toMatchObject({ ok: false });
    expect(verifyV3({ ...base, bodyParams: [...params, ['X', '1']], signatures: good })).toMatchObject({ ok: false });
    expect(verifyV3({ ...base, signatures: '%%%not base64' })).toMatchObject({ ok: false });
    expect(verifyV3({ ...base, method: 'PUT', signatures: good })).toEqual({ ok: false, reason: 'bad-method' });
  });
});

describe('stream token', () => {
  const ctx = {
    callId: 'c0ffee-1',
    direction: 'outbound' as const,
    from: '+14155550100',
    to: '+14155550199',
    outboundId: 'ob-9',
    campaignId: 'cmp',
    openingReason: 'callback requested',
    objective: 'book a slot',
    variables: { name: 'Ada Lovelace' },
  };
  const o = { secret: 's3cret', ttlS: 60 };

  it('round-trips the call context and is URL-path safe', () => {
    const t = mintStreamToken(ctx, o);
    expect(t).toMatch(/^v2\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    // Claims are encrypted: nothing of the context is readable in the URL (issue 15).
    const decoded = t
      .split('.')
      .map((p) => Buffer.from(p, 'base64url').toString('latin1'))
      .join(' ');
    for (const secretValue of ['Ada', 'Lovelace', '4155550', 'book a slot', 'callback', 'c0ffee']) {
      expect(decoded).not.toContain(secretValue);
    }
    expect(mintStreamToken(ctx, o)).not.toBe(t); // fresh IV per token
    expect(verifyStreamToken(t, 's3cret')).toEqual(ctx);
    expect(
      verifyStreamToken(mintStreamToken({ callId: 'x', direction: 'inbound', from: 'a', to: 'b' }, o), 's3cret'),
    ).toEqual({
      callId: 'x',
      direction: 'inbound',
      from: 'a',
      to: 'b',
    });
  });

  it('refuses altered, truncated, foreign, expired and wrong-kind tokens', () => {
    const t = mintStreamToken(ctx, o);
    const reason = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(StreamTokenError);
        return (e as StreamTokenError).reason;
      }
      return 'accepted';
    };
    const [v, iv, sealed] = t.split('.') as [string, string, string];
    const other = mintStreamToken({ ...ctx, callId: 'other' }, o).split('.');
    // Another token's ciphertext under this IV, or its IV with this ciphertext: authentication fails.
    expect(reason(() => verifyStreamToken(`${v}.${iv}.${other[2]}`, 's3cret'))).toBe('bad-signature');
    expect(reason(() => verifyStreamToken(`${v}.${other[1]}.${sealed}`, 's3cret'))).toBe('bad-signature');
    const flipped = Buffer.from(sealed, 'base64url');
    flipped[3]! ^= 1;
    expect(reason(() => verifyStreamToken(`${v}.${iv}.${flipped.toString('base64url')}`, 's3cret'))).toBe(
      'bad-signature',
    );
    expect(reason(() => verifyStreamToken(`${t.slice(0, -2)}AA`, 's3cret'))).toBe('bad-signature');
    expect(reason(() => verifyStreamToken(t, 'other-secret'))).toBe('bad-signature');
    expect(reason(() => verifyStreamToken(`v1.${iv}.${sealed}`, 's3cret'))).toBe('wrong-version');
    expect(reason(() => verifyStreamToken('', 's3cret'))).toBe('malformed');
    expect(reason(() => verifyStreamToken(`${v}.${iv}`, 's3cret'))).toBe('malformed');
    expect(reason(() => verifyStreamToken(`${v}.a+b.${sealed}`, 's3cret'))).toBe('malformed');
    expect(reason(() => verifyStreamToken(`${v}.${iv.slice(0, 8)}.${sealed}`, 's3cret'))).toBe('malformed');
    expect(reason(() => verifyStreamToken(`${v}.${iv}.AAAA`, 's3cret'))).toBe('malformed');
    const old = mintStreamToken(ctx, { ...o, nowMs: Date.now() - 120_000 });
    expect(reason(() => verifyStreamToken(old, 's3cret'))).toBe('expired');
    const transfer = mintTransferToken('c1', '+14155550111', o);
    expect(reason(() => verifyStreamToken(transfer, 's3cret'))).toBe('wrong-kind');
    expect(verifyTransferToken(transfer, 's3cret')).toEqual({ callId: 'c1', target: '+14155550111' });
    expect(reason(() => verifyTransferToken(t, 's3cret'))).toBe('wrong-kind');
  });

  it('refuses a context too large for a URL', () => {
    expect(() => mintStreamToken({ ...ctx, objective: 'x'.repeat(3000) }, o)).toThrow(/too large/);
  });
});

describe('XML', () => {
  it('escapes everything it writes', () => {
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
    const xml = streamXml({
      url: 'wss://gw.example.com/stream/v1.a&b',
      format: { encoding: 'mulaw', sampleRate: 8000 },
      statusCallbackUrl: 'https://gw.example.com/cb?a=1&b=2',
    });
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Stream bidirectional="true" keepCallAlive="true" ' +
        'contentType="audio/x-mulaw;rate=8000" statusCallbackUrl="https://gw.example.com/cb?a=1&amp;b=2" ' +
        'statusCallbackMethod="POST">wss://gw.example.com/stream/v1.a&amp;b</Stream></Response>',
    );
    expect(streamXml({ url: 'ws://h/s', format: { encoding: 'l16', sampleRate: 16000 } })).toContain(
      'contentType="audio/x-l16;rate=16000"',
    );
    expect(rejectXml()).toContain('<Hangup reason="busy"/>');
    expect(dialXml('+1415<5', '+1')).toContain('<Dial callerId="+1"><Number>+1415&lt;5</Number></Dial>');
  });
});

describe('webhook parameters', () => {
  it('parses answer and hangup callbacks', () => {
    const a = parseAnswer({
      CallUUID: 'abc-1',
      From: '14155550123',
      To: '+14155550100',
      Direction: 'inbound',
      CallStatus: 'ringing',
    });
    expect(a).toMatchObject({ callId: 'abc-1', direction: 'inbound', from: '+14155550123', to: '+14155550100' });
    expect(baseContext(a)).toEqual({ callId: 'abc-1', direction: 'inbound', from: '+14155550123', to: '+14155550100' });
    const h = parseHangup({
      CallUUID: 'abc-1',
      CallStatus: 'completed',
      HangupCause: 'NORMAL_CLEARING',
      Duration: '12',
      BillDuration: 'x',
    });
    expect(h).toMatchObject({
      callId: 'abc-1',
      status: 'completed',
      hangupCause: 'NORMAL_CLEARING',
      durationS: 12,
      billDurationS: undefined,
    });
    expect(normalizeNumber('sip:alice@example.com')).toBe('sip:alice@example.com');
  });

  it('rejects missing or hostile identifiers', () => {
    expect(() => parseAnswer({})).toThrow(WebhookParamsError);
    expect(() => parseAnswer({ CallUUID: '../../etc' })).toThrow(WebhookParamsError);
    expect(() => parseAnswer({ CallUUID: 'a', Direction: 'sideways' })).toThrow(WebhookParamsError);
    expect(() => parseHangup({ CallUUID: 'x'.repeat(100) })).toThrow(WebhookParamsError);
  });
});
