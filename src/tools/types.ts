// What a tool sees and what it is made of. A tool is one file: a definition object built with `defineTool`, listed in
// src/tools/index.ts. Tools never touch audio; they act through the PlivoApi, the order source, and `CallControl`.
import type { z } from 'zod';
import type { Config } from '../config.ts';
import type { CallContext } from '../contract/call.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { PlivoApi } from '../plivo/api-types.ts';
import type { CallbackRequest } from '../store/types.ts';

/** What a running call lets a tool do to it. */
export interface CallControl {
  /** Hang up once the agent's goodbye has been heard (checkpoint confirmed, or a timeout). */
  endAfterGoodbye(reason: string): void;
  /** Store a callback request in the call record and hand it to the dialer hook. */
  scheduleCallback(request: CallbackRequest): Promise<void>;
  /** The call was handed to someone else: stop the agent once the transfer is accepted. */
  markTransferred(target: string): void;
  /** A short outcome label for the call record. */
  setOutcome(outcome: string): void;
}

export interface ToolContext {
  callId: string;
  call: CallContext;
  /** Aborted on toolCallCancellation, on timeout, and when the call ends. */
  signal: AbortSignal;
  config: Config;
  plivo: PlivoApi | undefined;
  control: CallControl;
  logger: Logger;
  now(): Date;
}

/** A tool's answer to the model. A failure is an `{ error }` object the model can speak about. */
export type ToolResult = Record<string, unknown>;

export interface ToolDefinition<Args = unknown> {
  name: string;
  /** Shown to the model: say when to use it and what it returns. */
  description: string;
  /** JSON Schema (type: object) sent to Gemini in the function declaration; `defineTool` derives it from `args`. */
  parameters: Record<string, unknown>;
  /** Validates what the model actually sent. */
  args: z.ZodType<Args>;
  /** Overrides TOOL_TIMEOUT_MS for this tool. */
  timeoutMs?: number | undefined;
  handler(args: Args, ctx: ToolContext): Promise<ToolResult>;
}

const kToolFailure = Symbol.for('gemini-plivo-gateway.tool-failure');

/** Thrown by handlers for failures whose message is safe and useful for the model to speak about. */
export class ToolFailure extends GatewayError {
  constructor(message: string, callId: string, detail?: Record<string, unknown>) {
    super('GW_ERR_TOOL', message, { callId, detail });
    this.name = 'ToolFailure';
    Object.defineProperty(this, kToolFailure, { value: true });
  }

  // GatewayError's brand check would make every GatewayError a ToolFailure: only this class's own instances are.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kToolFailure] === true;
  }
}
