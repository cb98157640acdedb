// System prompts: prompts/inbound.md and prompts/outbound.md (PROMPTS_DIR overrides the folder), read once and
// cached. The outbound prompt is a template filled with the call's opening reason, objective and variables; every
// prompt ends with facts about this call (date and time, so that "tomorrow at 3" can become a timestamp).
// Client text turns use the same templating: prompts/opening-inbound.md and opening-outbound.md (the turn that
// makes the agent speak first), voicemail.md (the message left on an answering machine) and reprompt.md (sent once
// when an agent turn came back silent).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallContext } from '../contract/call.ts';
import { GatewayError } from '../errors.ts';

export const DEFAULT_PROMPTS_DIR = fileURLToPath(new URL('../../prompts/', import.meta.url));

const cache = new Map<string, string>();

/** Prompt files besides the two system prompts. */
export type TurnPrompt = 'opening-inbound' | 'opening-outbound' | 'voicemail' | 'reprompt';

export function loadPromptTemplate(
  kind: 'inbound' | 'outbound' | TurnPrompt,
  dir: string = DEFAULT_PROMPTS_DIR,
): string {
  const file = join(dir, `${kind}.md`);
  let text = cache.get(file);
  if (text === undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new GatewayError('GW_ERR_CONFIG', `cannot read the ${kind} prompt at ${file}`, { cause });
    }
    if (text.trim() === '') throw new GatewayError('GW_ERR_CONFIG', `the ${kind} prompt at ${file} is empty`);
    cache.set(file, text);
  }
  return text;
}

/** For tests that rewrite prompt files. */
export function clearPromptCache(): void {
  cache.clear();
}

const MAX_VARIABLES = 20;
const MAX_CONTEXT_CHARS = 1000;

/** The customer's side of the call in E.164 (Plivo sends numbers without '+'); a browser for playground calls. */
function customerNumber(ctx: CallContext): string {
  const n = ctx.direction === 'outbound' ? ctx.to : ctx.from;
  if (n === '') return 'unknown';
  return /^\d{6,15}$/.test(n) ? `+${n}` : n;
}
const MAX_VALUE_CHARS = 200;

/**
 * Values come from whoever placed the outbound call: keep them to one short line each and strip template
 * braces, so a value can neither inject a new section nor another placeholder.
 */
export function sanitiseValue(value: string, max = MAX_VALUE_CHARS): string {
  const flat = value
    .replace(/[{}]/g, '')
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/\s{2,}/g, ' ')
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function renderVariables(vars: Record<string, string> | undefined): string {
  const entries = Object.entries(vars ?? {})
    .filter(([k]) => /^[A-Za-z][\w .-]{0,39}$/.test(k))
    .slice(0, MAX_VARIABLES);
  if (entries.length === 0) return '- (nothing else)';
  return entries.map(([k, v]) => `- ${k.replace(/_/g, ' ')}: ${sanitiseValue(String(v))}`).join('\n');
}

/**
 * Fills `{{name}}` placeholders. A name that is neither a known value nor a `var.<name>` (per-call variables, which
 * may be absent) is refused: every prompt is rendered once at start (CallManager), so a misspelt placeholder stops
 * the start instead of rendering as a blank on every call.
 */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{\s*([A-Za-z][\w.]*)\s*\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v !== undefined) return v;
    if (key.startsWith('var.')) return '';
    throw new GatewayError(
      'GW_ERR_CONFIG',
      `prompt placeholder {{${key}}} is unknown; use one of ${PLACEHOLDER_NAMES.map((n) => `{{${n}}}`).join(', ')} or {{var.<name>}}`,
    );
  });
}

/** Placeholders every prompt may use; the snake_case names are the Python example's. */
export const PLACEHOLDER_NAMES = [
  'openingReason',
  'opening_reason',
  'objective',
  'context',
  'variables',
  'callerNumber',
  'caller_number',
  'callId',
  'call_id',
] as const;

export interface PromptOptions {
  dir?: string | undefined;
  now?: Date | undefined;
  /** SYSTEM_PROMPT: inline inbound prompt text, used instead of the inbound prompt file. */
  inboundText?: string | undefined;
}

/**
 * The direction whose prompts and opening a call runs: a playground call runs the one its page chose, exactly as a
 * phone call in that direction would.
 */
export function promptDirection(ctx: CallContext): 'inbound' | 'outbound' {
  return ctx.direction === 'playground' ? (ctx.prompt ?? 'inbound') : ctx.direction;
}

export function buildSystemPrompt(ctx: CallContext, opts: PromptOptions = {}): string {
  const direction = promptDirection(ctx);
  const template =
    direction === 'inbound' && opts.inboundText !== undefined
      ? opts.inboundText
      : loadPromptTemplate(direction, opts.dir ?? DEFAULT_PROMPTS_DIR);
  const values = templateValues(ctx);
  const now = opts.now ?? new Date();
  const facts = [
    '',
    '# This call',
    '',
    `- Current date and time (UTC): ${now.toISOString().slice(0, 16).replace('T', ' ')} (${weekday(now)})`,
    `- Direction: ${direction === 'inbound' ? 'the customer called us' : 'we called the customer'}`,
    // As the Python example did: the model can confirm the number it may text or call back, and quote the call id.
    `- The customer's number: ${values.callerNumber}`,
    `- Call id: ${values.callId}`,
  ];
  if (ctx.context !== undefined && !/\{\{\s*context\s*\}\}/.test(template)) {
    facts.push(`- Context from whoever placed the call: ${values.context}`);
  }
  return `${renderTemplate(template, values).trimEnd()}\n${facts.join('\n')}\n`;
}

/** A client text turn from its prompt file, templated like the system prompt; comment lines (`<!-- -->`) dropped. */
export function buildTurnPrompt(kind: TurnPrompt, ctx: CallContext, opts: PromptOptions = {}): string {
  // A PROMPTS_DIR made before these files existed keeps working: a missing one comes from the bundled folder.
  const dir = opts.dir !== undefined && existsSync(join(opts.dir, `${kind}.md`)) ? opts.dir : DEFAULT_PROMPTS_DIR;
  const template = loadPromptTemplate(kind, dir).replace(/<!--[\s\S]*?-->/g, '');
  const text = renderTemplate(template, templateValues(ctx)).trim();
  if (text === '') throw new GatewayError('GW_ERR_CONFIG', `the ${kind} prompt is empty once its comments are removed`);
  return text;
}

function templateValues(ctx: CallContext): Record<string, string> {
  const values: Record<string, string> = {
    openingReason: sanitiseValue(ctx.openingReason ?? 'a follow-up on their interest in TechFlow'),
    objective: sanitiseValue(
      ctx.objective ?? 'learn whether they are interested and offer a meeting with a specialist',
    ),
    variables: renderVariables(ctx.variables),
    context: ctx.context === undefined ? '(none)' : sanitiseValue(ctx.context, MAX_CONTEXT_CHARS),
    callerNumber: customerNumber(ctx),
    callId: ctx.callId,
  };
  values.opening_reason = values.openingReason!;
  values.caller_number = values.callerNumber!;
  values.call_id = values.callId!;
  for (const [k, v] of Object.entries(ctx.variables ?? {})) {
    if (/^[A-Za-z]\w{0,39}$/.test(k)) values[`var.${k}`] = sanitiseValue(String(v));
  }
  return values;
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** The UTC weekday's English name: a table, because toLocaleDateString builds an Intl formatter on every call. */
function weekday(d: Date): string {
  return WEEKDAYS[d.getUTCDay()]!;
}
