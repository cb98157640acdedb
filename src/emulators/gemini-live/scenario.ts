// Scenario files: what the emulated agent says, when, and which tools it calls. Validated with zod so that a typo in
// a scenario fails loudly at start-up instead of as a silent, confusing test.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';

const Ms = z.number().int().min(0).max(3_600_000);

export const AudioSpecSchema = z.discriminatedUnion('kind', [
  /** Speak the turn's `text`: espeak-ng when available (or forced), else the synthetic speech-like signal. */
  z.strictObject({
    kind: z.literal('speech'),
    voice: z.string().min(1).optional(),
    wpm: z.number().int().min(80).max(450).optional(),
  }),
  /** Speech-like signal (voiced syllables) whose length follows the text; never calls espeak-ng. */
  z.strictObject({ kind: z.literal('synthetic') }),
  z.strictObject({
    kind: z.literal('tone'),
    freqHz: z.number().min(20).max(11_000),
    ms: Ms.min(10),
    dbfs: z.number().min(-90).max(0).optional(),
  }),
  /** A WAV file (PCM 8/16/24/32 or float32, any rate, any channels); relative paths resolve from the scenario file. */
  z.strictObject({ kind: z.literal('wav'), path: z.string().min(1) }),
  z.strictObject({ kind: z.literal('silence'), ms: Ms.min(10) }),
]);
export type AudioSpec = z.infer<typeof AudioSpecSchema>;

export const ToolCallSpecSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/),
  args: z.record(z.string(), z.unknown()).default({}),
});
export type ToolCallSpec = z.infer<typeof ToolCallSpecSchema>;

/**
 * When a turn plays:
 * - `opening`: the conversation's first agent turn, played when the client starts the conversation: its first text
 *   turn (`clientContent` with `turnComplete: true` where the model takes it, or `realtimeInput.text`) or the end of
 *   the caller's first utterance. The real native-audio models never speak first (python-genai#1533; pipecat#4931).
 * - `caller-speech`: the end of the caller's utterance, or caller text.
 * - `tool-response`: every call of the previous turn answered.
 * `session-start` (the agent speaking by itself after setupComplete) was removed: it is only in the type so that a
 * scenario still using it fails at load with an explanation instead of a bare "invalid enum value".
 */
export const TriggerSchema = z.enum(['opening', 'caller-speech', 'tool-response', 'session-start']);
export type Trigger = Exclude<z.infer<typeof TriggerSchema>, 'session-start'>;

export const TurnSchema = z.strictObject({
  id: z.string().min(1).optional(),
  trigger: TriggerSchema,
  /** What the caller is expected to say before this turn: sent back as `inputTranscription`. */
  callerText: z.string().optional(),
  /** What the agent says: `outputTranscription`, and the text spoken by `speech`/`synthetic` audio. */
  text: z.string().default(''),
  audio: AudioSpecSchema.optional(),
  toolCalls: z.array(ToolCallSpecSchema).max(16).default([]),
  interruptible: z.boolean().default(true),
  /** "Thinking" time before the first audio chunk; defaults to the scenario's responseDelayMs. */
  delayMs: Ms.optional(),
  /** Sent once this turn completes (first time only; a resumed conversation does not repeat it). */
  goAway: z.strictObject({ timeLeftMs: Ms }).optional(),
  /** The conversation is over after this turn: further caller speech is transcribed but gets no answer. */
  end: z.boolean().default(false),
});
export type Turn = z.infer<typeof TurnSchema>;

export const ScenarioSchema = z
  .strictObject({
    name: z.string().min(1),
    description: z.string().optional(),
    speech: z.enum(['auto', 'espeak', 'synthetic']).default('auto'),
    voice: z.string().min(1).default('en-us'),
    responseDelayMs: Ms.default(250),
    /** Removed with `session-start` (rejected at load); in the schema only for the explanation. */
    startDelayMs: Ms.optional(),
    /**
     * Connection lifetime: goAway at `goAwayAtMs` after the socket opens, close 1011 `timeLeftMs` later. Applies to
     * the first `connections` connections that complete setup (default: every connection, like the real service).
     */
    lifetime: z
      .strictObject({ goAwayAtMs: Ms, timeLeftMs: Ms, connections: z.number().int().min(1).optional() })
      .optional(),
    turns: z.array(TurnSchema).min(1).max(500),
  })
  .superRefine((s, ctx) => {
    if (s.startDelayMs !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['startDelayMs'],
        message: 'startDelayMs was removed with the session-start trigger: the agent never speaks first',
      });
    }
    s.turns.forEach((t, i) => {
      if (t.trigger === 'session-start') {
        ctx.addIssue({
          code: 'custom',
          path: ['turns', i, 'trigger'],
          message:
            'the session-start trigger was removed: the real service never speaks before the client does; use ' +
            '"opening" (played on the first client text turn or the end of the first caller utterance)',
        });
      }
      if (t.trigger === 'opening' && i !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['turns', i, 'trigger'],
          message: 'only the first turn can be "opening"',
        });
      }
      if (t.trigger === 'tool-response') {
        const prev = s.turns[i - 1];
        if (!prev || prev.toolCalls.length === 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['turns', i, 'trigger'],
            message: 'a tool-response turn must follow a turn that makes tool calls',
          });
        }
      }
      if (t.audio === undefined && t.text.trim() === '' && t.toolCalls.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['turns', i], message: 'a turn needs text, audio or tool calls' });
      }
    });
  });
export type Scenario = z.input<typeof ScenarioSchema>;
export type ParsedScenario = z.output<typeof ScenarioSchema>;

export interface LoadedScenario {
  scenario: ParsedScenario;
  /** Directory that relative asset paths resolve from. */
  baseDir: string;
}

export function loadScenario(src: Scenario | string): LoadedScenario {
  if (typeof src === 'string') {
    const path = resolve(src);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read scenario ${path}: ${(err as Error).message}`);
    }
    return { scenario: parseScenario(raw, path), baseDir: dirname(path) };
  }
  return { scenario: parseScenario(src, 'scenario object'), baseDir: process.cwd() };
}

export function parseScenario(raw: unknown, where = 'scenario'): ParsedScenario {
  const r = ScenarioSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid ${where}: ${issues}`);
  }
  return r.data;
}

/**
 * Fills `{{tool_name.path.to.field}}` from the latest response to that tool (looked up in `response`, then in
 * `response.output`, which is where SDK users usually put results). Unresolved placeholders read "unknown" so that
 * the agent still says something sensible.
 */
export function renderText(text: string, responses: ReadonlyMap<string, unknown>): string {
  return text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g, (_m, ref: string) => {
    const [tool, ...path] = ref.split('.');
    const response = responses.get(tool ?? '');
    const found = lookup(response, path) ?? lookup((response as { output?: unknown } | undefined)?.output, path);
    if (found === undefined || found === null) return 'unknown';
    return typeof found === 'object' ? JSON.stringify(found) : String(found);
  });
}

function lookup(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return path.length === 0 ? undefined : cur;
}
