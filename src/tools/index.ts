// The tools every call gets. To add one: write src/tools/<name>.ts with defineTool(...) and list it here.
import type { Config } from '../config.ts';
import { checkOrderStatus } from './check-order-status.ts';
import { endCall } from './end-call.ts';
import { ToolRegistry } from './registry.ts';
import { scheduleCallback } from './schedule-callback.ts';
import { sendSms } from './send-sms.ts';
import { transferCall } from './transfer-call.ts';
import type { ToolDefinition } from './types.ts';

export const builtinTools: readonly ToolDefinition<unknown>[] = [
  checkOrderStatus,
  sendSms,
  scheduleCallback,
  transferCall,
  endCall,
] as ToolDefinition<unknown>[];

/**
 * The built-in tools this configuration can serve: `transfer_call` only when TRANSFER_NUMBER is set, so the model is
 * never offered a transfer that can only fail.
 */
export function toolsFor(config: Config): readonly ToolDefinition<unknown>[] {
  return config.tools.transferNumber ? builtinTools : builtinTools.filter((t) => t !== transferCall);
}

export function createToolRegistry(
  config: Config,
  tools: readonly ToolDefinition<unknown>[] = toolsFor(config),
): ToolRegistry {
  return new ToolRegistry(tools, config.tools.timeoutMs);
}

export { ToolRegistry } from './registry.ts';
export type { CallControl, ToolContext, ToolDefinition, ToolResult } from './types.ts';
