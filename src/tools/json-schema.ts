// A tool's JSON Schema for Gemini's function declaration, derived from the zod schema that validates its arguments,
// so the two cannot disagree. zod's OpenAPI 3.0 target matches the Schema subset Gemini's `parameters` takes; what
// helps a validator but only costs the model tokens is dropped (a format's regex, safe-integer bounds).
import { z } from 'zod';

export function parametersFromZod(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });
  return tidy(json) as Record<string, unknown>;
}

function tidy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(tidy);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  const o = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (k === '$schema' || k === 'additionalProperties') continue;
    // `format: date-time` or `email` already says it; zod adds the regex that implements it.
    if (k === 'pattern' && typeof o.format === 'string') continue;
    if ((k === 'minimum' || k === 'maximum') && Math.abs(v as number) === Number.MAX_SAFE_INTEGER) continue;
    out[k] = tidy(v);
  }
  return out;
}
