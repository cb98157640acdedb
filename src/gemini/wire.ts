// The Gemini Live wire codec, pure: what a server message says, decoded once into a typed view, and the client
// messages we send, built as the SDK's parameter objects (the SDK serialises them). No session state, no I/O:
// src/gemini/live-session.ts keeps the session logic, as src/plivo/stream-session.ts does over
// src/plivo/stream-codec.ts. Field names follow the BidiGenerateContent reference
// (https://ai.google.dev/api/live): `serverContent`, `toolCall`, `toolCallCancellation`, `goAway`,
// `sessionResumptionUpdate`, `usageMetadata`.
import type { UsageInfo } from './types.ts';

/** A function call as the server sent it: the id may be missing (some generations omit it). */
export interface WireFunctionCall {
  id: string | undefined;
  name: string;
  args: Record<string, unknown>;
}

/**
 * One server message, decoded. A session keeps one instance and `decodeServerMessage` refills it for every frame
 * (the audio path runs every 20–40 ms per call: the arrays are reused, only their counts change). Fields a message
 * does not carry are reset to empty.
 */
export class ServerMessageView {
  /** `serverContent.interrupted`: the caller barged in; the model stopped generating. */
  interrupted = false;
  /** Base64 PCM of the `serverContent.modelTurn` parts that carry audio, in order: `audio[0 .. audioCount)`. */
  readonly audio: string[] = [];
  audioCount = 0;
  /**
   * The audio part whose base64 was cut out of the frame before the parse (`parseServerFrame`): its `audio[]` entry
   * is empty and its text is `cut.bytes[cut.start, cut.end)`. -1 when none.
   */
  cutIndex = -1;
  inputText: string | undefined;
  outputText: string | undefined;
  usage: UsageInfo | undefined;
  /** The message has a `toolCall` (even one whose calls are all malformed). */
  hasToolCall = false;
  readonly functionCalls: WireFunctionCall[] = [];
  turnComplete = false;
  readonly cancelledIds: string[] = [];
  /** A new resumable handle (`sessionResumptionUpdate` with `resumable: true` and a non-empty handle). */
  resumptionHandle: string | undefined;
  /** `goAway` is present; `goAwayTimeLeft` is its `timeLeft` as sent (a duration string such as "10s"). */
  goAway = false;
  goAwayTimeLeft: unknown;

  reset(): void {
    this.interrupted = false;
    this.audioCount = 0;
    this.cutIndex = -1;
    this.inputText = undefined;
    this.outputText = undefined;
    this.usage = undefined;
    this.hasToolCall = false;
    this.functionCalls.length = 0;
    this.turnComplete = false;
    this.cancelledIds.length = 0;
    this.resumptionHandle = undefined;
    this.goAway = false;
    this.goAwayTimeLeft = undefined;
  }
}

/** Where `parseServerFrame` cut a frame's audio out: `bytes[start, end)` is the base64; start -1 when it did not. */
export class AudioCut {
  bytes: Buffer = EMPTY;
  start = -1;
  end = -1;

  clear(): void {
    this.bytes = EMPTY;
    this.start = -1;
    this.end = -1;
  }
}

const EMPTY = Buffer.alloc(0);
const DATA_KEY = Buffer.from('"data":"');
const DATA_NAME = Buffer.from('"data"');
const QUOTE = 0x22;
const COLON = 0x3a;
const BACKSLASH = 0x5c;

/**
 * Parses a server frame (UTF-8 JSON) with the audio's base64 left out of the parse, once per frame. An audio frame
 * is almost all base64 (40 ms of 24 kHz PCM16 is 2,560 characters): parsing it whole makes the frame a string and
 * then the base64 a second string, two thirds of all the gateway allocates (allocation profile at 200 calls), which
 * is what drives its scavenges and promotions. So when the frame has exactly one `"data"` key, written `"data":"`,
 * and its value has no escape, the parse gets the frame with that value emptied and `cut` says where the base64 is.
 * Emptying a string that holds no quote and no backslash keeps a valid JSON text valid and an invalid one invalid,
 * so the parse accepts exactly what the whole parse would; `decodeServerMessage` sets `cutIndex` only when the key
 * was an audio part's `inlineData.data`, and the caller parses the frame whole when it was anything else, or when
 * the base64 is not canonical (`base64DecodeInto` refuses it). Throws what JSON.parse throws.
 */
export function parseServerFrame(frame: Buffer, cut: AudioCut): unknown {
  cut.clear();
  // The first `"data"` anywhere in the frame, and it must be a key written `"data":"` (in valid JSON a raw `"data"`
  // is a key or the string value "data", never text inside another string, where its quotes would be escaped).
  const key = frame.indexOf(DATA_NAME);
  if (key >= 0 && frame[key + DATA_NAME.length] === COLON && frame[key + DATA_NAME.length + 1] === QUOTE) {
    const start = key + DATA_KEY.length;
    const end = frame.indexOf(QUOTE, start);
    const backslash = end < 0 ? -1 : frame.indexOf(BACKSLASH, start);
    if (end >= 0 && (backslash < 0 || backslash > end) && frame.indexOf(DATA_NAME, end) < 0) {
      cut.bytes = frame;
      cut.start = start;
      cut.end = end;
      return JSON.parse(frame.toString('utf8', 0, start) + frame.toString('utf8', end));
    }
  }
  return JSON.parse(frame.toString());
}

/**
 * Decodes a parsed server frame into `out`. Returns false when the frame is not a JSON object (the caller counts it
 * as malformed and drops it). Inside a valid frame, fields of the wrong type are ignored one by one, so a message
 * that carries audio and one odd field still plays its audio.
 */
export function decodeServerMessage(msg: unknown, out: ServerMessageView, cut?: AudioCut): boolean {
  out.reset();
  if (!isRecord(msg)) return false;
  const sc = msg.serverContent;
  if (isRecord(sc)) {
    if (sc.interrupted === true) out.interrupted = true;
    const turn = sc.modelTurn;
    if (isRecord(turn) && Array.isArray(turn.parts)) {
      for (const part of turn.parts) {
        if (!isRecord(part)) continue;
        const inline = part.inlineData;
        if (!isRecord(inline) || typeof inline.data !== 'string') continue;
        if (typeof inline.mimeType === 'string' && !inline.mimeType.startsWith('audio/')) continue;
        // The one `"data"` of the frame was cut out before the parse: this part's audio is in the frame bytes.
        if (cut !== undefined && cut.start >= 0 && inline.data === '' && out.cutIndex < 0)
          out.cutIndex = out.audioCount;
        out.audio[out.audioCount++] = inline.data;
      }
    }
    const input = sc.inputTranscription;
    if (isRecord(input) && typeof input.text === 'string' && input.text !== '') out.inputText = input.text;
    const output = sc.outputTranscription;
    if (isRecord(output) && typeof output.text === 'string' && output.text !== '') out.outputText = output.text;
    if (sc.turnComplete === true) out.turnComplete = true;
  }
  const usage = msg.usageMetadata;
  if (isRecord(usage)) out.usage = toUsage(usage);
  const toolCall = msg.toolCall;
  if (isRecord(toolCall)) {
    out.hasToolCall = true;
    if (Array.isArray(toolCall.functionCalls)) {
      for (const fc of toolCall.functionCalls) {
        if (!isRecord(fc) || typeof fc.name !== 'string' || fc.name === '') continue;
        out.functionCalls.push({
          id: typeof fc.id === 'string' && fc.id !== '' ? fc.id : undefined,
          name: fc.name,
          args: isRecord(fc.args) ? fc.args : {},
        });
      }
    }
  }
  const cancel = msg.toolCallCancellation;
  if (isRecord(cancel) && Array.isArray(cancel.ids)) {
    for (const id of cancel.ids) if (typeof id === 'string') out.cancelledIds.push(id);
  }
  const update = msg.sessionResumptionUpdate;
  if (isRecord(update) && update.resumable === true && typeof update.newHandle === 'string' && update.newHandle !== '')
    out.resumptionHandle = update.newHandle;
  const goAway = msg.goAway;
  if (isRecord(goAway)) {
    out.goAway = true;
    out.goAwayTimeLeft = goAway.timeLeft;
  }
  return true;
}

// ---- client messages (the SDK's parameter objects; it adds the envelope and serialises) ---------------------------

/**
 * The uplink's `realtimeInput.audio` message, serialised without the SDK into one reusable buffer. It goes out once
 * per chunk per call (every GEMINI_UPLINK_CHUNK_MS), always the same envelope around the chunk's base64, so only the
 * base64 is written per chunk: one string (Node's native encoder) copied in, where the SDK's `sendRealtimeInput`
 * converts the parameters field by field, JSON.stringify walks them, and ws encodes the result again into a new
 * Buffer. The message is the one the SDK builds for `sendRealtimeInput({ audio: { data, mimeType } })` on both the
 * Gemini API and Vertex (tests/gemini/wire.test.ts).
 */
export class AudioInputWriter {
  private readonly buf: Buffer;
  private readonly headLength: number;
  private readonly tail: Buffer;

  /** `maxBytes`: the largest chunk of PCM that will be written. */
  constructor(mimeType: string, maxBytes: number) {
    const head = Buffer.from('{"realtimeInput":{"audio":{"data":"');
    this.tail = Buffer.from(`","mimeType":${JSON.stringify(mimeType)}}}}`);
    this.headLength = head.length;
    this.buf = Buffer.allocUnsafeSlow(head.length + Math.ceil(maxBytes / 3) * 4 + this.tail.length);
    head.copy(this.buf, 0);
  }

  /** The message for `pcm[0, byteLength)`; a view of the writer's buffer, valid until the next call. */
  write(pcm: Buffer, byteLength: number): Buffer {
    const b64 = pcm.toString('base64', 0, byteLength);
    const n = this.buf.write(b64, this.headLength, 'latin1');
    const end = this.headLength + n;
    this.tail.copy(this.buf, end);
    return this.buf.subarray(0, end + this.tail.length);
  }
}

/** A user text turn as `clientContent` (generations that take it all session; see src/gemini/profiles.ts). */
export function clientTextTurn(text: string): {
  turns: { role: 'user'; parts: { text: string }[] }[];
  turnComplete: true;
} {
  return { turns: [{ role: 'user', parts: [{ text }] }], turnComplete: true };
}

/** A user text turn as `realtimeInput.text` (generations that take `clientContent` only to seed history). */
export function realtimeTextTurn(text: string): { text: string } {
  return { text };
}

export interface WireFunctionResponse {
  /** Absent for a call the server sent without an id (answered by name). */
  id?: string;
  name: string;
  response: Record<string, unknown>;
}

/** `toolResponse` with one entry per answered call. */
export function toolResponse(functionResponses: WireFunctionResponse[]): { functionResponses: WireFunctionResponse[] } {
  return { functionResponses };
}

// ---- helpers --------------------------------------------------------------------------------------------------------

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** `usageMetadata`; Vertex names the response count `candidatesTokenCount`. */
export function toUsage(raw: Record<string, unknown>): UsageInfo {
  return {
    promptTokenCount: num(raw.promptTokenCount),
    responseTokenCount: num(raw.responseTokenCount) ?? num(raw.candidatesTokenCount),
    totalTokenCount: num(raw.totalTokenCount),
    raw,
  };
}
