import { describe, expect, it } from 'vitest';
import { base64DecodeInto, base64EncodeInto } from '../../src/contract/base64.ts';
import {
  BAD_MEDIA,
  checkpointMessage,
  clearAudioMessage,
  decodeMediaFast,
  NOT_MEDIA,
  PlayAudioWriter,
  parseExtraHeaders,
  parseInbound,
  phoneFormatOf,
  sendDtmfMessage,
} from '../../src/plivo/stream-codec.ts';

const media = (payload: string) =>
  Buffer.from(
    `{"event":"media","sequenceNumber":42,"streamId":"s-1","media":{"track":"inbound","timestamp":"1705312200000","chunk":41,"payload":"${payload}"},"extra_headers":"a=1"}`,
  );

describe('base64', () => {
  it('round-trips every length against Buffer', () => {
    for (let n = 0; n < 70; n++) {
      const src = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      const out = new Uint8Array(200);
      const w = base64EncodeInto(src, out, 3);
      const text = Buffer.from(out.subarray(3, 3 + w)).toString('latin1');
      expect(text).toBe(Buffer.from(src).toString('base64'));
      const back = new Uint8Array(100);
      const enc = Buffer.from(text, 'latin1');
      expect(base64DecodeInto(enc, 0, enc.length, back)).toBe(n);
      expect([...back.subarray(0, n)]).toEqual([...src]);
    }
  });

  it('rejects bad base64 instead of decoding part of it', () => {
    const out = new Uint8Array(10);
    for (const bad of ['abc', 'ab!d', 'a===', '====', 'ab=d', 'YWJj\n']) {
      const b = Buffer.from(bad);
      expect(base64DecodeInto(b, 0, b.length, out)).toBe(-1);
    }
    const big = Buffer.from('A'.repeat(20));
    expect(base64DecodeInto(big, 0, big.length, out)).toBe(-1);
  });
});

describe('media fast path', () => {
  it('decodes the payload of a Plivo media message without JSON.parse', () => {
    const frame = Uint8Array.from({ length: 160 }, (_, i) => i);
    const out = new Uint8Array(4000);
    expect(decodeMediaFast(media(Buffer.from(frame).toString('base64')), out)).toBe(160);
    expect([...out.subarray(0, 160)]).toEqual([...frame]);
  });

  it('classifies non-media and broken media', () => {
    const out = new Uint8Array(4000);
    expect(decodeMediaFast(Buffer.from('{"event":"dtmf","dtmf":{"digit":"1"}}'), out)).toBe(NOT_MEDIA);
    expect(decodeMediaFast(Buffer.from('not json'), out)).toBe(NOT_MEDIA);
    expect(decodeMediaFast(Buffer.from('{"event": "media"}'), out)).toBe(NOT_MEDIA); // spaced: slow path
    expect(decodeMediaFast(media('@@@@'), out)).toBe(BAD_MEDIA);
    expect(decodeMediaFast(media(''), out)).toBe(BAD_MEDIA);
    expect(decodeMediaFast(Buffer.from('{"event":"media","media":{}}'), out)).toBe(BAD_MEDIA);
    expect(decodeMediaFast(media(Buffer.alloc(5000).toString('base64')), out)).toBe(BAD_MEDIA);
    expect(decodeMediaFast(Buffer.from('{"event":"media","media":{"payload":"AAAA'), out)).toBe(NOT_MEDIA);
  });
});

describe('parseInbound', () => {
  it('parses start with its media format and extra headers', () => {
    const r = parseInbound(
      JSON.stringify({
        event: 'start',
        sequenceNumber: 1,
        start: {
          callId: 'c-1',
          streamId: 's-1',
          accountId: 'MA1',
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000 },
        },
        extra_headers: 'userId=12345;sessionId=abc',
      }),
    );
    expect(r).toEqual({
      ok: true,
      event: {
        event: 'start',
        callId: 'c-1',
        streamId: 's-1',
        accountId: 'MA1',
        tracks: ['inbound'],
        encoding: 'audio/x-l16',
        sampleRate: 16000,
        extraHeaders: { userId: '12345', sessionId: 'abc' },
      },
    });
  });

  it('accepts both checkpoint reply spellings, dtmf, clearedAudio and stop', () => {
    expect(parseInbound('{"event":"playedStream","name":"t1"}')).toEqual({
      ok: true,
      event: { event: 'playedStream', name: 't1' },
    });
    expect(parseInbound('{"event":"played","name":"t1"}')).toMatchObject({ ok: true });
    expect(parseInbound('{"event":"dtmf","dtmf":{"digit":"#"}}')).toEqual({
      ok: true,
      event: { event: 'dtmf', digit: '#' },
    });
    expect(parseInbound('{"event":"clearedAudio","sequenceNumber":0}')).toMatchObject({ ok: true });
    expect(parseInbound('{"event":"stop"}')).toMatchObject({ ok: true });
  });

  it('rejects bad data with a reason, never throws', () => {
    const cases: Array<[string, string]> = [
      ['{', 'malformed-json'],
      ['[1,2]', 'malformed-json'],
      ['null', 'malformed-json'],
      ['{"event":7}', 'invalid-field'],
      ['{"event":"start"}', 'invalid-field'],
      ['{"event":"start","start":{"callId":1,"streamId":"s"}}', 'invalid-field'],
      [
        '{"event":"start","start":{"callId":"c","streamId":"s","mediaFormat":{"encoding":"x","sampleRate":"fast"}}}',
        'invalid-field',
      ],
      ['{"event":"dtmf","dtmf":{"digit":"55"}}', 'invalid-field'],
      ['{"event":"dtmf","dtmf":"5"}', 'invalid-field'],
      ['{"event":"playedStream","name":5}', 'invalid-field'],
      ['{"event":"media","media":{"payload":5}}', 'invalid-field'],
      ['{"event":"muteStream"}', 'unknown-event'],
    ];
    for (const [text, reason] of cases) expect(parseInbound(text)).toMatchObject({ ok: false, reason });
  });

  it('parses every extra_headers form seen in the docs', () => {
    expect(parseExtraHeaders('a=1,b=2')).toEqual({ a: '1', b: '2' });
    expect(parseExtraHeaders('{"a":"1","n":2}')).toEqual({ a: '1' });
    expect(parseExtraHeaders('garbage')).toEqual({});
    expect(parseExtraHeaders(undefined)).toEqual({});
    expect(parseExtraHeaders('{broken')).toEqual({});
  });

  it('maps Plivo media formats', () => {
    expect(phoneFormatOf('audio/x-mulaw', 8000)).toEqual({ encoding: 'mulaw', sampleRate: 8000 });
    expect(phoneFormatOf('audio/x-l16', 8000)).toEqual({ encoding: 'l16', sampleRate: 8000 });
    expect(phoneFormatOf('audio/x-l16;rate=16000', 16000)).toEqual({ encoding: 'l16', sampleRate: 16000 });
    expect(phoneFormatOf('audio/x-mulaw', 16000)).toBeUndefined();
    expect(phoneFormatOf('audio/opus', 48000)).toBeUndefined();
  });
});

describe('outbound messages', () => {
  it('writes playAudio exactly as Plivo documents it, one 20 ms frame per message', () => {
    const w = new PlayAudioWriter({ encoding: 'mulaw', sampleRate: 8000 });
    const frame = Uint8Array.from({ length: 160 }, (_, i) => 255 - i);
    const msg = JSON.parse(Buffer.from(w.write(frame)).toString('utf8'));
    expect(msg).toEqual({
      event: 'playAudio',
      media: { contentType: 'audio/x-mulaw', sampleRate: 8000, payload: Buffer.from(frame).toString('base64') },
    });
    const ring = new Uint8Array(480);
    ring.set(frame, 160);
    expect(Buffer.from(w.writeFrom(ring, 160)).toString()).toBe(Buffer.from(w.write(frame)).toString());
    const l16 = new PlayAudioWriter({ encoding: 'l16', sampleRate: 16000 });
    const m2 = JSON.parse(Buffer.from(l16.write(new Uint8Array(640))).toString('utf8'));
    expect(m2.media).toMatchObject({ contentType: 'audio/x-l16', sampleRate: 16000 });
    expect(Buffer.from(m2.media.payload, 'base64').length).toBe(640);
  });

  it('writes the control messages', () => {
    expect(JSON.parse(checkpointMessage('s', 'n"1'))).toEqual({ event: 'checkpoint', streamId: 's', name: 'n"1' });
    expect(JSON.parse(clearAudioMessage('s'))).toEqual({ event: 'clearAudio', streamId: 's' });
    expect(JSON.parse(sendDtmfMessage('12#'))).toEqual({ event: 'sendDTMF', dtmf: '12#' });
  });
});
