// One registry for every tool: it declares them to Gemini, validates what the model sends (the model can send
// garbage), enforces a timeout, and turns every failure into an `{ error }` answer the model can speak about.
// Adding a tool = one file with `defineTool(...)` + one line in src/tools/index.ts.
import type { z } from 'zod';
import { errorMessage, GatewayError } from '../errors.ts';
import type { ToolCallRequest, ToolDeclaration } from '../gemini/types.ts';
import { parametersFromZod } from './json-schema.ts';
import type { ToolContext, ToolDefinition, ToolResult } from './types.ts';
import { ToolFailure } from './types.ts';

export type ToolOutcomeKind = 'ok' | 'error' | 'timeout' | 'cancelled';

export interface ToolOutcome {
  outcome: ToolOutcomeKind;
  /** What goes back to Gemini in the functionResponse (`{ error }` unless ok). */
  response: ToolResult;
  error?: string | undefined;
  durationMs: number;
}

/**
 * Typed helper so a tool's handler receives its schema's parsed output type. The JSON Schema declared to Gemini is
 * derived from `args` (field descriptions via zod's `.describe()`), so what the model is told and what is checked
 * are one definition.
 */
export function defineTool<S extends z.ZodType>(
  def: Omit<ToolDefinition<z.output<S>>, 'args' | 'handler' | 'parameters'> & {
    args: S;
    handler(args: z.output<S>, ctx: ToolContext): Promise<ToolResult>;
  },
): ToolDefinition<z.output<S>> {
  return { ...def, parameters: parametersFromZod(def.args) } as ToolDefinition<z.output<S>>;
}

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;
const MAX_ERROR_CHARS = 300;

export class ToolRegistry {
  readonly #tools = new Map<string, ToolDefinition<unknown>>();
  readonly #defaultTimeoutMs: number;
  readonly #declarations: ToolDeclaration[];

  constructor(tools: readonly ToolDefinition<unknown>[], defaultTimeoutMs: number) {
    for (const tool of tools) {
      if (!NAME.test(tool.name)) {
        throw new GatewayError('GW_ERR_INVALID_ARGUMENT', `invalid tool name ${JSON.stringify(tool.name)}`);
      }
      if (this.#tools.has(tool.name)) {
        throw new GatewayError('GW_ERR_INVALID_ARGUMENT', `tool ${tool.name} is registered twice`);
      }
      if (tool.parameters.type !== 'object') {
        throw new GatewayError('GW_ERR_INVALID_ARGUMENT', `tool ${tool.name}: parameters must be a JSON Schema object`);
      }
      this.#tools.set(tool.name, tool);
    }
    this.#defaultTimeoutMs = defaultTimeoutMs;
    this.#declarations = [...this.#tools.values()].map((t) => ({
      name: t.name,
      description: t.description,
      parameters: t.parameters,
    }));
  }

  declarations(): ToolDeclaration[] {
    return this.#declarations;
  }

  names(): string[] {
    return [...this.#tools.keys()];
  }

  /**
   * Runs one tool call to completion. Never throws: the outcome says what happened. `signal` is the caller's
   * cancellation (toolCallCancellation or the call ending); the timeout is added here.
   */
  async run(request: ToolCallRequest, ctx: Omit<ToolContext, 'signal'>, signal: AbortSignal): Promise<ToolOutcome> {
    const started = performance.now();
    const done = (outcome: ToolOutcomeKind, response: ToolResult, error?: string): ToolOutcome => ({
      outcome,
      response,
      error,
      durationMs: performance.now() - started,
    });
    const tool = this.#tools.get(request.name);
    if (!tool) {
      return done('error', { error: `Unknown tool "${clip(request.name, 64)}".` }, 'unknown tool');
    }
    const parsed = tool.args.safeParse(request.args ?? {});
    if (!parsed.success) {
      const problems = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`)
        .join('; ');
      const message = clip(`Invalid arguments for ${tool.name}: ${problems}`, MAX_ERROR_CHARS);
      return done('error', { error: message }, message);
    }
    if (signal.aborted) return done('cancelled', { error: 'The request was cancelled.' }, 'cancelled');

    const timeoutMs = tool.timeoutMs ?? this.#defaultTimeoutMs;
    const controller = new AbortController();
    let timedOut = false;
    let settle: ((v: 'aborted') => void) | undefined;
    const aborted = new Promise<'aborted'>((resolve) => {
      settle = resolve;
    });
    const onParentAbort = () => {
      controller.abort(signal.reason);
      settle?.('aborted');
    };
    signal.addEventListener('abort', onParentAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new GatewayError('GW_ERR_TOOL_TIMEOUT', `${tool.name} timed out`, { callId: ctx.callId }));
      settle?.('aborted');
    }, timeoutMs);
    try {
      const result = await Promise.race([tool.handler(parsed.data, { ...ctx, signal: controller.signal }), aborted]);
      // A handler that settles because it saw the abort must not count as a success.
      if (result === 'aborted' || controller.signal.aborted) {
        return this.#abortOutcome(done, tool.name, timedOut, timeoutMs);
      }
      return done('ok', result);
    } catch (err) {
      if (controller.signal.aborted) return this.#abortOutcome(done, tool.name, timedOut, timeoutMs);
      if (err instanceof ToolFailure) {
        const message = clip(err.message, MAX_ERROR_CHARS);
        return done('error', { error: message }, message);
      }
      ctx.logger.warn({ err, tool: tool.name }, 'tool failed');
      return done(
        'error',
        { error: `${tool.name} failed because of a temporary system problem. Offer another way to help.` },
        clip(errorMessage(err), MAX_ERROR_CHARS),
      );
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onParentAbort);
    }
  }

  #abortOutcome(
    done: (o: ToolOutcomeKind, r: ToolResult, e?: string) => ToolOutcome,
    name: string,
    timedOut: boolean,
    timeoutMs: number,
  ): ToolOutcome {
    if (timedOut) {
      return done(
        'timeout',
        {
          error: `${name} did not answer within ${Math.round(timeoutMs / 1000)} seconds. Apologise and offer another way to help.`,
        },
        'timeout',
      );
    }
    return done('cancelled', { error: 'The request was cancelled.' }, 'cancelled');
  }
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
