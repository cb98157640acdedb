// The Gemini Live wire codec on its own: real message shapes (as the service and our emulator send them) and bad
// data, field by field. The session's behaviour over a real socket is in live-session.test.ts.
import { Session } from '@google/genai';
import { describe, expect, it } from 'vitest';
import {
  AudioCut,
  AudioInputWriter,
  clientTextTurn,
  decodeServerMessage,
  parseServerFrame,
  realtimeTextTurn,
  ServerMessageView,
  toolResponse,
} from '../../src/gemini/wire.ts';

const pcmB64 = Buffer.from(new Int16Array([1, -2, 3]).buffer).toString('base64');

describe('decodeServerMessage', () => {
  it('decodes an audio chunk with its transcription', () => {
    const v = new ServerMessageView();
    const ok = decodeServerMessage(
      {
        serverContent: {
          modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: pcmB64 } }] },
          outputTranscription: { text: 'Hello' },
        },
      },
      v,
    );
    expect(ok).toBe(true);
    expect(v.audioCount).toBe(1);
    expect(v.audio[0]).toBe(pcmB64);
    expect(v.outputText).toBe('Hello');
    expect(v.turnComplete).toBe(false);
    expect(v.interrupted).toBe(false);
  });

  it('keeps audio parts in order, skips text and malformed parts', () => {
    const v = new ServerMessageView();
    decodeServerMessage(
      {
        serverContent: {
          modelTurn: {
            parts: [
              { inlineData: { mimeType: 'audio/pcm', data: 'AAAA' } },
              { text: 'thinking' },
              { inlineData: { mimeType: 'image/png', data: 'BBBB' } },
              null,
              { inlineData: { data: 42 } },
              { inlineData: { data: 'CCCC' } }, // no mimeType: audio is the only inline data a Live model sends
            ],
          },
        },
      },
      v,
    );
    expect(v.audio.slice(0, v.audioCount)).toEqual(['AAAA', 'CCCC']);
  });

  it('reuses the view: fields of the previous message do not leak into the next', () => {
    const v = new ServerMessageView();
    decodeServerMessage(
      {
        serverContent: { interrupted: true, turnComplete: true, inputTranscription: { text: 'hi' } },
        toolCall: { functionCalls: [{ id: 'a', name: 'x', args: {} }] },
        toolCallCancellation: { ids: ['a'] },
        goAway: { timeLeft: '10s' },
        sessionResumptionUpdate: { resumable: true, newHandle: 'h1' },
        usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 },
      },
      v,
    );
    expect(v.interrupted && v.turnComplete && v.goAway && v.hasToolCall).toBe(true);
    expect(v.usage).toMatchObject({ promptTokenCount: 3, responseTokenCount: 4, totalTokenCount: 7 });
    expect(v.resumptionHandle).toBe('h1');
    expect(v.goAwayTimeLeft).toBe('10s');
    decodeServerMessage({ serverContent: { generationComplete: true } }, v);
    expect(v).toMatchObject({
      interrupted: false,
      turnComplete: false,
      goAway: false,
      hasToolCall: false,
      audioCount: 0,
      inputText: undefined,
      usage: undefined,
      resumptionHandle: undefined,
    });
    expect(v.functionCalls).toEqual([]);
    expect(v.cancelledIds).toEqual([]);
  });

  it('decodes tool calls: ids optional, args default to {}, nameless calls dropped', () => {
    const v = new ServerMessageView();
    decodeServerMessage(
      {
        toolCall: {
          functionCalls: [
            { id: 'c1', name: 'check_order_status', args: { order_id: 'ORD-1' } },
            { name: 'end_call' },
            { id: 'c3', name: '' },
            { id: 'c4', args: {} },
            'junk',
            { id: '', name: 'send_sms', args: [1, 2] },
          ],
        },
      },
      v,
    );
    expect(v.hasToolCall).toBe(true);
    expect(v.functionCalls).toEqual([
      { id: 'c1', name: 'check_order_status', args: { order_id: 'ORD-1' } },
      { id: undefined, name: 'end_call', args: {} },
      { id: undefined, name: 'send_sms', args: {} },
    ]);
  });

  it('ignores a resumption update that is not resumable or has no handle', () => {
    const v = new ServerMessageView();
    decodeServerMessage({ sessionResumptionUpdate: { resumable: false, newHandle: 'h' } }, v);
    expect(v.resumptionHandle).toBeUndefined();
    decodeServerMessage({ sessionResumptionUpdate: { resumable: true, newHandle: '' } }, v);
    expect(v.resumptionHandle).toBeUndefined();
    decodeServerMessage({ sessionResumptionUpdate: { resumable: true } }, v);
    expect(v.resumptionHandle).toBeUndefined();
  });

  it('bad data: a frame that is not an object is refused; wrong field types are ignored one by one', () => {
    const v = new ServerMessageView();
    for (const bad of [null, 42, 'text', [], [{ serverContent: {} }], true])
      expect(decodeServerMessage(bad, v)).toBe(false);
    expect(
      decodeServerMessage(
        {
          serverContent: {
            interrupted: 'yes',
            turnComplete: 1,
            modelTurn: { parts: 'none' },
            inputTranscription: { text: 5 },
            outputTranscription: 'Hello',
          },
          toolCall: { functionCalls: 'x' },
          toolCallCancellation: { ids: [1, 'ok', null] },
          usageMetadata: { promptTokenCount: 'NaN', totalTokenCount: Number.POSITIVE_INFINITY },
          goAway: 'soon',
        },
        v,
      ),
    ).toBe(true);
    expect(v).toMatchObject({ interrupted: false, turnComplete: false, audioCount: 0, goAway: false });
    expect(v.inputText).toBeUndefined();
    expect(v.outputText).toBeUndefined();
    expect(v.hasToolCall).toBe(true);
    expect(v.functionCalls).toEqual([]);
    expect(v.cancelledIds).toEqual(['ok']);
    expect(v.usage).toMatchObject({ promptTokenCount: undefined, totalTokenCount: undefined });
  });
});

describe('parseServerFrame: the audio base64 left out of the parse', () => {
  const audio40ms = Buffer.from(Int16Array.from({ length: 960 }, (_, i) => ((i * 37) % 20000) - 10000).buffer);
  const b64 = audio40ms.toString('base64');
  const audioFrame = (data: string) =>
    `{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"${data}"}}]}}}`;

  /** What the session acts on: the decoded view, with the cut part's audio read back from the frame bytes. */
  function viaCut(text: string) {
    const frame = Buffer.from(text);
    const cut = new AudioCut();
    const v = new ServerMessageView();
    const ok = decodeServerMessage(parseServerFrame(frame, cut), v, cut);
    const audio = v.audio.slice(0, v.audioCount);
    if (v.cutIndex >= 0) audio[v.cutIndex] = frame.toString('latin1', cut.start, cut.end);
    return { ok, cut: cut.start >= 0, cutIndex: v.cutIndex, audio, view: v };
  }
  function whole(text: string) {
    const v = new ServerMessageView();
    const ok = decodeServerMessage(JSON.parse(text), v);
    return { ok, audio: v.audio.slice(0, v.audioCount), view: v };
  }

  it('cuts the one audio part out and leaves the rest to the parse, which then agrees with the whole parse', () => {
    for (const text of [
      audioFrame(b64),
      audioFrame(''),
      // Audio and a transcription (non-ASCII) in one frame; the data key first in its object.
      `{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"${b64}","mimeType":"audio/pcm"}}]},"outputTranscription":{"text":"Grüße, señor"}}}`,
    ]) {
      const a = viaCut(text);
      const b = whole(text);
      expect(a.cut).toBe(true);
      expect(a.cutIndex).toBe(0);
      expect(a.audio).toEqual(b.audio);
      expect(a.view.outputText).toBe(b.view.outputText);
    }
  });

  it('parses whole what it cannot cut safely: escapes, two data keys, spacing, a "data" value before the key', () => {
    const escaped = b64.replace(/\//g, '\\/');
    expect(escaped).not.toBe(b64);
    for (const text of [
      audioFrame(escaped),
      `{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"${pcmB64}"}},{"inlineData":{"data":"${pcmB64}"}}]}}}`,
      `{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data": "${pcmB64}"}}]}}}`,
      `{"toolCall":{"functionCalls":[{"name":"data","args":{}}]},"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"${pcmB64}"}}]}}}`,
      '{"serverContent":{"turnComplete":true}}',
    ]) {
      const a = viaCut(text);
      const b = whole(text);
      expect(a.cut, text.slice(0, 60)).toBe(false);
      expect(a.audio).toEqual(b.audio);
      expect(a.view.functionCalls).toEqual(b.view.functionCalls);
    }
  });

  it('a cut that is not an audio part is not taken as audio (the session then parses the frame whole)', () => {
    // The only "data" key is a tool argument: cut, but no audio part claims it.
    const tool = viaCut('{"toolCall":{"functionCalls":[{"id":"a","name":"lookup","args":{"data":"ORD-1001"}}]}}');
    expect(tool.cut).toBe(true);
    expect(tool.cutIndex).toBe(-1);
    // An inlineData that is not audio is skipped, cut or not.
    const image = viaCut(
      '{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}}',
    );
    expect(image.cutIndex).toBe(-1);
    expect(image.audio).toEqual([]);
  });

  it('bad data: what the whole parse refuses, the cut parse refuses too', () => {
    for (const text of [
      audioFrame(b64).slice(0, -3),
      `{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"${b64}}}]}}}`,
      `{"serverContent" {"modelTurn":{"parts":[{"inlineData":{"data":"${pcmB64}"}}]}}}`,
      '',
    ]) {
      expect(() => JSON.parse(text)).toThrow();
      expect(() => parseServerFrame(Buffer.from(text), new AudioCut())).toThrow();
    }
    // A control character inside the base64 makes the frame invalid JSON; the cut parse cannot see it, so the
    // session checks the base64 (base64DecodeInto refuses it) and then parses the frame whole, which throws.
    const withNewline = audioFrame(`${b64.slice(0, 8)}\n${b64.slice(8)}`);
    expect(() => JSON.parse(withNewline)).toThrow();
    const c = viaCut(withNewline);
    expect(c.cutIndex).toBe(0);
  });
});

describe('client messages', () => {
  it('builds text turns and tool responses in the shapes the SDK serialises', () => {
    expect(clientTextTurn('Hi')).toEqual({ turns: [{ role: 'user', parts: [{ text: 'Hi' }] }], turnComplete: true });
    expect(realtimeTextTurn('Hi')).toEqual({ text: 'Hi' });
    expect(
      toolResponse([
        { id: 'c1', name: 'x', response: { ok: true } },
        { name: 'y', response: {} },
      ]),
    ).toEqual({
      functionResponses: [
        { id: 'c1', name: 'x', response: { ok: true } },
        { name: 'y', response: {} },
      ],
    });
  });
});

describe('the uplink audio writer', () => {
  it('writes the message the SDK sends for sendRealtimeInput({ audio }), on the Gemini API and on Vertex', () => {
    const pcm = Buffer.from(Int16Array.from([0, 1, -1, 32767, -32768, 7]).buffer);
    const writer = new AudioInputWriter('audio/pcm;rate=16000', 64);
    // Each length once: whole base64 groups, and one and two padding characters.
    for (const length of [12, 10, 8, 11]) {
      const data = pcm.toString('base64', 0, length);
      for (const vertex of [false, true]) {
        const sent: string[] = [];
        const session = new Session(
          { send: (m: string) => sent.push(m) } as never,
          {
            isVertexAI: () => vertex,
          } as never,
        );
        session.sendRealtimeInput({ audio: { data, mimeType: 'audio/pcm;rate=16000' } });
        const ours = writer.write(pcm, length).toString();
        expect(ours, `${length} bytes, ${vertex ? 'vertex' : 'gemini api'}`).toBe(sent[0]!);
      }
    }
  });

  it('reuses one buffer: a shorter chunk after a longer one leaves nothing of it behind', () => {
    const writer = new AudioInputWriter('audio/pcm;rate=16000', 3200);
    const long = writer.write(Buffer.alloc(3200, 1), 3200).toString();
    const short = writer.write(Buffer.alloc(6, 2), 6).toString();
    expect(JSON.parse(short)).toEqual({
      realtimeInput: { audio: { data: Buffer.alloc(6, 2).toString('base64'), mimeType: 'audio/pcm;rate=16000' } },
    });
    expect(JSON.parse(long).realtimeInput.audio.data).toHaveLength(Math.ceil(3200 / 3) * 4);
  });
});
