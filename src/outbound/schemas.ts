// Request validation for the outbound API (zod). Every error names its field so that a caller can fix the request
// in one go: `{ error: 'invalid_request', fields: [{ field: 'contacts.3.phone_number', message }] }`.
import { z } from 'zod';
import { toE164 } from './phone.ts';
import { isValidTimeZone, parseHhMm } from './window.ts';

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_VARIABLES = 50;
export const MAX_CONTACTS = 10_000;

/** DEFAULT_COUNTRY_CODE (config.outbound.defaultCountry): how numbers given without '+' are read. */
export type DefaultCountry = { callingCode: string } | { country: string } | undefined;

const phoneSchema = (defaultCountry: DefaultCountry) =>
  z
    .string({ error: 'is required (a phone number in E.164 form, e.g. +14155550100)' })
    .max(32, 'is too long')
    .transform((v, ctx) => {
      const e164 = toE164(v, defaultCountry);
      if (!e164) {
        ctx.addIssue({ code: 'custom', message: 'must be a valid phone number in E.164 form, e.g. +14155550100' });
        return z.NEVER;
      }
      return e164;
    });

const text = (max: number) => z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(max);

const variables = z
  .record(
    z.string().regex(VAR_NAME, 'variable names are letters, digits and _ (not starting with a digit)'),
    z.string({ error: 'variable values must be strings' }).max(1000),
  )
  .refine((o) => Object.keys(o).length <= MAX_VARIABLES, `at most ${MAX_VARIABLES} variables`);

const machineDetection = z
  .union([z.boolean(), z.enum(['true', 'false', 'hangup'])], {
    error: "must be 'true', 'hangup' or 'false'",
  })
  .transform((v) => (v === true ? 'true' : v === false ? 'false' : v));

const campaignId = z.string({ error: 'must be a string' }).regex(ID_PATTERN, 'must be 1-64 letters, digits, _ or -');

const timezone = z
  .string({ error: 'must be a string' })
  .refine(isValidTimeZone, 'must be an IANA time zone such as America/New_York');

const hhmm = z.string({ error: 'must be a string' }).refine((v) => parseHhMm(v) !== undefined, 'must be HH:MM (24 h)');

const callSchema = (phone: ReturnType<typeof phoneSchema>) =>
  z.object({
    phone_number: phone,
    campaign_id: campaignId.optional(),
    opening_reason: text(1000).optional(),
    objective: text(1000).optional(),
    // The Python example's free-text `context` (a JSON object is taken as its JSON text): it reaches the prompt.
    context: z
      .union([z.string(), z.record(z.string(), z.unknown())], { error: 'must be a string or an object' })
      .transform((v) => (typeof v === 'string' ? v : JSON.stringify(v)))
      .pipe(text(1000))
      .optional(),
    variables: variables.optional(),
    machine_detection: machineDetection.optional(),
  });

const retryOn = z.enum(['busy', 'no-answer', 'failed']);

const campaignSchema = (phone: ReturnType<typeof phoneSchema>) =>
  z.object({
    campaign_id: campaignId.optional(),
    contacts: z
      .array(
        z.object({
          phone_number: phone,
          variables: variables.optional(),
          timezone: timezone.optional(),
        }),
        { error: 'must be an array of contacts' },
      )
      .min(1, 'must have at least one contact')
      .max(MAX_CONTACTS, `at most ${MAX_CONTACTS} contacts per campaign`),
    opening_reason: text(1000),
    objective: text(1000).optional(),
    max_concurrent: z.coerce.number({ error: 'must be a number' }).int().min(1).max(1000).default(5),
    calls_per_second: z.coerce.number({ error: 'must be a number' }).positive().max(1000).optional(),
    retry: z
      .object({
        max_attempts: z.coerce.number().int().min(1).max(10).default(1),
        retry_on: z.array(retryOn).default(['busy', 'no-answer', 'failed']),
        backoff_s: z.coerce
          .number()
          .int()
          .min(0)
          .max(7 * 86_400)
          .default(300),
      })
      .optional(),
    window: z.object({ start: hhmm, end: hhmm }).optional(),
    timezone: timezone.optional(),
    machine_detection: machineDetection.optional(),
  });

/** The request schemas, reading numbers without '+' with DEFAULT_COUNTRY_CODE when it is set. */
export function requestSchemas(defaultCountry: DefaultCountry) {
  const phone = phoneSchema(defaultCountry);
  return { call: callSchema(phone), campaign: campaignSchema(phone) };
}

export const callRequestSchema = callSchema(phoneSchema(undefined));
export type CallRequest = z.output<typeof callRequestSchema>;
export const campaignRequestSchema = campaignSchema(phoneSchema(undefined));
export type CampaignRequest = z.output<typeof campaignRequestSchema>;

export interface FieldError {
  field: string;
  message: string;
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(body)', message: i.message }));
}

/**
 * The seed API takes query parameters; variables there are `var_<name>=value`. Folded into `variables` (a JSON
 * body's `variables` object wins on a clash).
 */
export function foldQueryVariables(params: Record<string, unknown>): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (k.startsWith('var_')) vars[k.slice(4)] = v;
    else out[k] = v;
  }
  if (Object.keys(vars).length === 0) return out;
  const body = out.variables;
  out.variables = body && typeof body === 'object' && !Array.isArray(body) ? { ...vars, ...body } : (body ?? vars);
  return out;
}
