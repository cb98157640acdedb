import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinTools, createToolRegistry } from '../../src/tools/index.ts';
import { defineTool, ToolRegistry } from '../../src/tools/registry.ts';
import { ToolFailure } from '../../src/tools/types.ts';
import { toolContext } from './helpers.ts';

const never = () => new AbortController().signal;

const echo = defineTool({
  name: 'echo',
  description: 'echo',
  args: z.object({ text: z.string().max(10) }),
  handler: async (a) => ({ text: a.text }),
});

describe('ToolRegistry', () => {
  it('offers transfer_call only when TRANSFER_NUMBER is set', () => {
    const names = (env: Record<string, string>) => createToolRegistry(toolContext({ env }).config).names();
    expect(names({})).not.toContain('transfer_call');
    expect(names({})).toHaveLength(4);
    expect(names({ TRANSFER_NUMBER: '+14155550199' })).toContain('transfer_call');
  });

  it('declares every builtin tool with a JSON Schema object and a description', () => {
    const { config } = toolContext({ env: { TRANSFER_NUMBER: '+14155550199' } });
    const reg = createToolRegistry(config);
    const decls = reg.declarations();
    expect(decls.map((d) => d.name)).toEqual([
      'check_order_status',
      'send_sms',
      'schedule_callback',
      'transfer_call',
      'end_call',
    ]);
    for (const d of decls) {
      expect(d.parameters.type).toBe('object');
      expect(d.description.length).toBeGreaterThan(20);
    }
    expect(builtinTools).toHaveLength(5);
  });

  it('rejects duplicate names, bad names and non-object schemas', () => {
    expect(() => new ToolRegistry([echo, echo] as never, 1000)).toThrow(/twice/);
    expect(() => new ToolRegistry([{ ...echo, name: 'bad name' }] as never, 1000)).toThrow(/invalid tool name/);
    expect(() => new ToolRegistry([{ ...echo, parameters: { type: 'string' } }] as never, 1000)).toThrow(/object/);
  });

  it('validates arguments: garbage from the model becomes an error the model can read', async () => {
    const reg = new ToolRegistry([echo] as never, 1000);
    const { ctx } = toolContext();
    for (const args of [{}, { text: 42 }, { text: 'x'.repeat(11) }, null as never, 'str' as never]) {
      const out = await reg.run({ id: '1', name: 'echo', args }, ctx, never());
      expect(out.outcome).toBe('error');
      expect(String(out.response.error)).toMatch(/Invalid arguments for echo/);
    }
    const ok = await reg.run({ id: '2', name: 'echo', args: { text: 'hi' } }, ctx, never());
    expect(ok).toMatchObject({ outcome: 'ok', response: { text: 'hi' } });
  });

  it('answers an unknown tool with an error', async () => {
    const reg = new ToolRegistry([echo] as never, 1000);
    const out = await reg.run({ id: '1', name: 'nope', args: {} }, toolContext().ctx, never());
    expect(out).toMatchObject({ outcome: 'error', response: { error: 'Unknown tool "nope".' } });
  });

  it('times out a slow tool and aborts its signal', async () => {
    let aborted = false;
    const slow = defineTool({
      name: 'slow',
      description: 'slow',
      args: z.object({}),
      timeoutMs: 30,
      handler: (_a, ctx) =>
        new Promise(() => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
          });
        }),
    });
    const reg = new ToolRegistry([slow] as never, 5000);
    const out = await reg.run({ id: '1', name: 'slow', args: {} }, toolContext().ctx, never());
    expect(out.outcome).toBe('timeout');
    expect(String(out.response.error)).toMatch(/did not answer/);
    expect(aborted).toBe(true);
  });

  it('cancels on the caller signal even if the handler ignores it', async () => {
    const stuck = defineTool({
      name: 'stuck',
      description: 'stuck',
      args: z.object({}),
      handler: () => new Promise(() => {}),
    });
    const reg = new ToolRegistry([stuck] as never, 5000);
    const c = new AbortController();
    const p = reg.run({ id: '1', name: 'stuck', args: {} }, toolContext().ctx, c.signal);
    c.abort();
    expect((await p).outcome).toBe('cancelled');
  });

  it('speaks ToolFailure messages and hides unexpected errors behind a generic one', async () => {
    const failing = defineTool({
      name: 'failing',
      description: 'failing',
      args: z.object({ kind: z.string() }),
      handler: async (a, ctx) => {
        if (a.kind === 'known') throw new ToolFailure('That order is archived.', ctx.callId);
        throw new Error('ECONNRESET at 10.0.0.3:5432');
      },
    });
    const reg = new ToolRegistry([failing] as never, 5000);
    const { ctx } = toolContext();
    const known = await reg.run({ id: '1', name: 'failing', args: { kind: 'known' } }, ctx, never());
    expect(known.response).toEqual({ error: 'That order is archived.' });
    const other = await reg.run({ id: '2', name: 'failing', args: { kind: 'x' } }, ctx, never());
    expect(other.outcome).toBe('error');
    expect(String(other.response.error)).not.toContain('10.0.0.3');
    expect(other.error).toContain('ECONNRESET');
  });
});

describe('tool schemas derived from zod', () => {
  it('declares to Gemini exactly the fields each tool validates, with a description for each', () => {
    for (const tool of builtinTools) {
      const params = tool.parameters as { type: string; properties: Record<string, { description?: string }> };
      expect(params.type, tool.name).toBe('object');
      const shape = (tool.args as unknown as { shape?: Record<string, unknown> }).shape ?? {};
      expect(Object.keys(params.properties).sort(), tool.name).toEqual(Object.keys(shape).sort());
      for (const [field, p] of Object.entries(params.properties)) {
        expect(p.description?.length ?? 0, `${tool.name}.${field}`).toBeGreaterThan(10);
      }
      expect(JSON.stringify(params)).not.toMatch(/\$schema|additionalProperties|9007199254740991/);
    }
    const sms = builtinTools.find((t) => t.name === 'send_sms')!.parameters;
    expect(sms).toMatchObject({ required: ['message'], properties: { message: { type: 'string', maxLength: 320 } } });
  });
});
