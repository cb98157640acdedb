import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { framesFor, pieceFrame, pieceLength, renderPcm, toFrames } from '../../../src/emulators/plivo/audio-source.ts';
import { parseContentType } from '../../../src/emulators/plivo/plivo-values.ts';
import { resample } from '../../../src/emulators/plivo/resample.ts';
import { parseBody } from '../../../src/emulators/plivo/rest.ts';
import { signatureHeaders, v3Signature, v3StringToSign } from '../../../src/emulators/plivo/signature.ts';
import { ulawDecode, ulawDecodeSample, ulawEncode, ulawEncodeSample } from '../../../src/emulators/plivo/ulaw.ts';
import { encodeWav, parseWav } from '../../../src/emulators/plivo/wav.ts';
import { findAll, parseXml } from '../../../src/emulators/plivo/xml.ts';

describe('V3 signer', () => {
  it('matches the worked example checked against the plivo SDK', () => {
    const params = { To: '14155550101', From: '14155550100', CallUUID: 'abc-123', CallStatus: 'in-progress' };
    const url = 'https://gw.example.com/plivo/answer';
    expect(v3StringToSign('POST', url, params)).toBe(
      'https://gw.example.com/plivo/answer?CallStatusin-progressCallUUIDabc-123From14155550100To14155550101',
    );
    expect(v3Signature('MY_AUTH_TOKEN', 'POST', url, '05429567804466091622', params)).toBe(
      'uWnwBVoBiENYhOvS0Yp6Q8D3sPLavv1TE+6PqCkB3Uw=',
    );
  });

  it('sorts URL query parameters and separates them from the body with a dot', () => {
    expect(v3StringToSign('POST', 'http://h:81/p?b=2&a=1', { Z: 'z', A: 'a' })).toBe('http://h:81/p?a=1&b=2.AaZz');
    expect(v3StringToSign('GET', 'http://h/p?b=2&a=x%20y')).toBe('http://h/p?a=x y&b=2');
    expect(v3StringToSign('POST', 'http://h/p', {})).toBe('http://h/p');
  });

  it('signs invalid mode with another key and none with no headers', () => {
    const url = 'http://h/answer';
    const params = { A: '1' };
    const good = signatureHeaders('valid', 'tok', 'POST', url, params);
    const nonce = good['X-Plivo-Signature-V3-Nonce']!;
    expect(nonce).toMatch(/^[0-9]{20}$/);
    const expected = createHmac('sha256', 'tok').update(`http://h/answer?A1.${nonce}`).digest('base64');
    expect(good['X-Plivo-Signature-V3']).toBe(expected);
    const bad = signatureHeaders('invalid', 'tok', 'POST', url, params);
    expect(bad['X-Plivo-Signature-V3']).not.toBe(
      v3Signature('tok', 'POST', url, bad['X-Plivo-Signature-V3-Nonce']!, params),
    );
    expect(signatureHeaders('none', 'tok', 'POST', url, params)).toEqual({});
  });
});

describe('μ-law', () => {
  it('round-trips within the codec step size and matches known code points', () => {
    expect(ulawEncodeSample(0)).toBe(0xff);
    expect(ulawEncodeSample(-1)).toBe(0x7f);
    expect(ulawEncodeSample(32767)).toBe(0x80);
    expect(ulawEncodeSample(-32768)).toBe(0x00);
    expect(ulawDecodeSample(0xff)).toBe(0);
    expect(ulawDecodeSample(0x80)).toBe(32124);
    expect(ulawDecodeSample(0x00)).toBe(-32124);
    for (let s = -32768; s < 32768; s += 97) {
      const back = ulawDecodeSample(ulawEncodeSample(s));
      expect(Math.abs(back - Math.max(-32124, Math.min(32124, s)))).toBeLessThanOrEqual(Math.max(8, Math.abs(s) / 16));
    }
    for (let b = 0; b < 256; b++) {
      if (b === 0x7f) continue; // -0 encodes as +0
      expect(ulawEncodeSample(ulawDecodeSample(b))).toBe(b);
    }
    expect(ulawDecode(ulawEncode(new Int16Array([1000, -1000])))).toHaveLength(2);
  });
});

describe('WAV', () => {
  it('writes and reads 16-bit PCM', () => {
    const pcm = new Int16Array([0, 1000, -1000, 32767, -32768]);
    const back = parseWav(encodeWav(pcm, 16000));
    expect(back.sampleRate).toBe(16000);
    expect([...back.samples]).toEqual([...pcm]);
  });

  it('reads stereo 8-bit, float and μ-law files', () => {
    const wav = (format: number, channels: number, bits: number, data: Uint8Array) => {
      const b = Buffer.alloc(44 + data.length);
      b.write('RIFF', 0);
      b.writeUInt32LE(36 + data.length, 4);
      b.write('WAVEfmt ', 8);
      b.writeUInt32LE(16, 16);
      b.writeUInt16LE(format, 20);
      b.writeUInt16LE(channels, 22);
      b.writeUInt32LE(8000, 24);
      b.writeUInt32LE((8000 * channels * bits) / 8, 28);
      b.writeUInt16LE((channels * bits) / 8, 32);
      b.writeUInt16LE(bits, 34);
      b.write('data', 36);
      b.writeUInt32LE(data.length, 40);
      b.set(data, 44);
      return new Uint8Array(b);
    };
    expect([...parseWav(wav(1, 2, 8, new Uint8Array([128, 128, 255, 255]))).samples]).toEqual([0, 127 << 8]);
    const f = new Float32Array([0.5]);
    expect(parseWav(wav(3, 1, 32, new Uint8Array(f.buffer))).samples[0]).toBe(Math.round(0.5 * 32767));
    expect(parseWav(wav(7, 1, 8, new Uint8Array([0xff, 0x80]))).samples[1]).toBe(32124);
  });

  it('rejects bad data', () => {
    expect(() => parseWav(new Uint8Array(10))).toThrow(/RIFF/);
    expect(() => parseWav(new Uint8Array(Buffer.from('RIFF\0\0\0\0WAVEjunk\x04\0\0\0abcd')))).toThrow(/fmt/);
    const noData = encodeWav(new Int16Array(0), 8000).subarray(0, 36);
    expect(() => parseWav(noData)).toThrow(/data/);
    const weird = Buffer.from(encodeWav(new Int16Array(4), 8000));
    weird.writeUInt16LE(2, 20); // ADPCM
    expect(() => parseWav(new Uint8Array(weird))).toThrow(/unsupported/);
  });
});

describe('audio sources', () => {
  it('renders tones at the asked rate and resamples without changing pitch', async () => {
    const tone = await renderPcm({ kind: 'tone', hz: 1000, ms: 100, amplitude: 0.5 }, 16000);
    expect(tone).toHaveLength(1600);
    const down = resample(tone, 16000, 8000);
    expect(down).toHaveLength(800);
    // 1 kHz at 8 kHz: 8 samples per period, so zero crossings every 4 samples.
    let crossings = 0;
    for (let i = 101; i < 700; i++) if (down[i - 1]! < 0 !== down[i]! < 0) crossings++;
    expect(crossings).toBeGreaterThan(140);
    expect(crossings).toBeLessThan(160);
    const seq = await renderPcm(
      {
        kind: 'sequence',
        parts: [
          { kind: 'silence', ms: 20 },
          { kind: 'noise', ms: 20, seed: 7 },
        ],
      },
      8000,
    );
    expect(seq).toHaveLength(320);
    expect(seq.subarray(0, 160).every((s) => s === 0)).toBe(true);
    expect(seq.subarray(160).some((s) => s !== 0)).toBe(true);
  });

  it('frames μ-law into 160-byte base64 frames padded with silence and caches them', async () => {
    const src = { kind: 'tone' as const, hz: 440, ms: 50 };
    const fmt = { encoding: 'audio/x-mulaw' as const, sampleRate: 8000 as const };
    const pieces = await framesFor(src, fmt);
    expect(pieces).toHaveLength(1);
    const frames = pieces[0]!.cycle;
    expect(frames).toHaveLength(3);
    expect(pieceLength(pieces[0]!)).toBe(3);
    for (const f of frames) expect(Buffer.from(f, 'base64')).toHaveLength(160);
    const last = Buffer.from(frames[2]!, 'base64');
    expect(last.subarray(80).every((b) => b === 0xff)).toBe(true);
    expect(await framesFor(src, fmt)).toBe(pieces);
  });

  it('keeps one period of long periodic sources, with the exact same frames as rendering it all', async () => {
    const fmt = { encoding: 'audio/x-mulaw' as const, sampleRate: 8000 as const };
    const tone = { kind: 'tone' as const, hz: 310, ms: 3_610, amplitude: 0.4 };
    const [piece] = await framesFor(tone, fmt);
    expect(piece!.cycle.length).toBe(5); // 8000/gcd(8000,310) = 800 samples = 5 frames
    expect(pieceLength(piece!)).toBe(181);
    const whole = toFrames(ulawEncode(await renderPcm(tone, 8000)), fmt);
    expect(whole).toHaveLength(181);
    for (let k = 0; k < whole.length; k++) expect(pieceFrame(piece!, k), `frame ${k}`).toBe(whole[k]);
    const [sil] = await framesFor({ kind: 'silence', ms: 3_600_000 }, fmt);
    expect(sil!.cycle).toHaveLength(1);
    expect(pieceLength(sil!)).toBe(180_000);
    const long = await framesFor(
      {
        kind: 'sequence',
        parts: [
          { kind: 'silence', ms: 30 },
          { kind: 'tone', hz: 400, ms: 70_000 },
        ],
      },
      fmt,
    );
    expect(long.map(pieceLength)).toEqual([2, 3500]);
    const [noise] = await framesFor({ kind: 'noise', ms: 10_000 }, fmt);
    expect(noise!.cycle).toHaveLength(50);
    expect(pieceLength(noise!)).toBe(500);
    expect(toFrames(new Uint8Array(640), { encoding: 'audio/x-l16', sampleRate: 16000 })).toHaveLength(1);
  });

  it('rejects a missing WAV file', async () => {
    await expect(
      framesFor({ kind: 'wav', path: '/nonexistent.wav' }, { encoding: 'audio/x-mulaw', sampleRate: 8000 }),
    ).rejects.toThrow();
  });
});

describe('XML reading', () => {
  it('reads the Stream element, its attributes and its entity-escaped body', () => {
    const root = parseXml(
      '<?xml version="1.0"?><!-- c --><Response><Stream bidirectional="true" a=\'1\'>ws://x/s?a=1&amp;b=&#50;</Stream><Hangup/></Response>',
    );
    expect(root.name).toBe('Response');
    const [stream] = findAll(root, 'Stream');
    expect(stream!.attrs).toEqual({ bidirectional: 'true', a: '1' });
    expect(stream!.text).toBe('ws://x/s?a=1&b=2');
    expect(root.children.map((c) => c.name)).toEqual(['Stream', 'Hangup']);
    expect(parseXml('<R><![CDATA[a<b]]></R>').text).toBe('a<b');
  });

  it('rejects malformed XML', () => {
    for (const bad of [
      '',
      'hello',
      '<Response>',
      '<Response></Stream>',
      '<Response><Stream></Response>',
      '<A/><B/>',
      '<Response a=1/>',
      '<Response>x & y</Response>',
      '<Response>&bogus;</Response>',
      '<Response><!-- never closed',
    ]) {
      expect(() => parseXml(bad), bad).toThrow();
    }
  });
});

describe('helpers', () => {
  it('parses Stream contentType like Plivo', () => {
    expect(parseContentType('audio/x-mulaw;rate=8000')).toEqual({ encoding: 'audio/x-mulaw', sampleRate: 8000 });
    expect(parseContentType('audio/x-l16; rate=16000')).toEqual({ encoding: 'audio/x-l16', sampleRate: 16000 });
    expect(parseContentType('audio/x-mulaw;rate=16000')).toBeUndefined();
    expect(parseContentType('audio/x-mulaw')).toBeUndefined();
    expect(parseContentType('audio/pcm;rate=8000')).toBeUndefined();
  });

  it('parses JSON and form REST bodies and rejects bad ones', () => {
    expect(parseBody('application/json', '{"to":"1","n":5,"b":true,"x":null}')).toEqual({ to: '1', n: '5', b: 'true' });
    expect(parseBody('application/x-www-form-urlencoded', 'to=%2B1&from=2')).toEqual({ to: '+1', from: '2' });
    expect(parseBody(undefined, '')).toEqual({});
    expect(parseBody('application/json', '{bad')).toMatch(/JSON/);
    expect(parseBody('application/json', '[1]')).toMatch(/object/);
    expect(parseBody('application/json', '{"a":{"b":1}}')).toMatch(/a must be/);
  });
});
