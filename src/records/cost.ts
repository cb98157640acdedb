// Usage by modality and an estimated cost per call from a price table (PRICE_TABLE, JSON, merged over the
// defaults). Defaults: Google's list prices for the Live API's native-audio model (gemini-2.5-flash-native-audio,
// https://ai.google.dev/gemini-api/docs/pricing, read December 2025), USD per million tokens; telephony per minute
// is 0 until set, because Plivo's rates depend on the country and number type (https://www.plivo.com/pricing/).
import { z } from 'zod';

export interface PriceTable {
  currency: string;
  /** USD (or `currency`) per 1M input tokens, by modality (Gemini's names: TEXT, AUDIO, IMAGE, VIDEO). */
  input_per_mtok: Record<string, number>;
  output_per_mtok: Record<string, number>;
  /** Per started minute of the call, by direction. */
  telephony_per_min: { inbound: number; outbound: number };
}

export const DEFAULT_PRICES: PriceTable = {
  currency: 'USD',
  input_per_mtok: { TEXT: 0.5, AUDIO: 3.0, IMAGE: 3.0, VIDEO: 3.0 },
  output_per_mtok: { TEXT: 2.0, AUDIO: 12.0 },
  telephony_per_min: { inbound: 0, outbound: 0 },
};

const priceSchema = z
  .object({
    currency: z.string().min(1).optional(),
    input_per_mtok: z.record(z.string(), z.number().min(0)).optional(),
    output_per_mtok: z.record(z.string(), z.number().min(0)).optional(),
    telephony_per_min: z
      .object({ inbound: z.number().min(0), outbound: z.number().min(0) })
      .partial()
      .optional(),
  })
  .strict();

/** Parses PRICE_TABLE; throws with a message naming the problem. */
export function parsePriceTable(json: string | undefined): PriceTable {
  if (json === undefined || json.trim() === '') return DEFAULT_PRICES;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('must be JSON, e.g. {"output_per_mtok":{"AUDIO":12}}');
  }
  const p = priceSchema.safeParse(raw);
  if (!p.success)
    throw new Error(p.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  const v = p.data;
  return {
    currency: v.currency ?? DEFAULT_PRICES.currency,
    input_per_mtok: { ...DEFAULT_PRICES.input_per_mtok, ...v.input_per_mtok },
    output_per_mtok: { ...DEFAULT_PRICES.output_per_mtok, ...v.output_per_mtok },
    telephony_per_min: { ...DEFAULT_PRICES.telephony_per_min, ...v.telephony_per_min },
  };
}

export interface ModalityUsage {
  input: Record<string, number>;
  output: Record<string, number>;
}

/** Adds one usageMetadata (per turn, as Gemini Live sends it) into `into`. */
export function addUsage(into: ModalityUsage, raw: Record<string, unknown>): void {
  const add = (side: Record<string, number>, details: unknown, total: unknown) => {
    if (Array.isArray(details) && details.length > 0) {
      for (const d of details) {
        if (d && typeof d === 'object') {
          const m = (d as { modality?: unknown }).modality;
          const n = (d as { tokenCount?: unknown }).tokenCount;
          if (typeof m === 'string' && typeof n === 'number' && n > 0) side[m] = (side[m] ?? 0) + n;
        }
      }
    } else if (typeof total === 'number' && total > 0) {
      // No per-modality details: count it as audio, the dearer modality, so the estimate does not come out low.
      side.AUDIO = (side.AUDIO ?? 0) + total;
    }
  };
  add(into.input, raw.promptTokensDetails, raw.promptTokenCount);
  add(into.output, raw.responseTokensDetails, raw.responseTokenCount);
}

export interface CostEstimate {
  currency: string;
  total: number;
  gemini_input: number;
  gemini_output: number;
  telephony: number;
}

export function estimateCost(
  usage: ModalityUsage,
  prices: PriceTable,
  call: { direction: 'inbound' | 'outbound' | 'playground'; durationS: number | undefined },
): CostEstimate {
  const sum = (side: Record<string, number>, table: Record<string, number>) =>
    Object.entries(side).reduce((acc, [m, n]) => acc + (n / 1e6) * (table[m] ?? table.AUDIO ?? 0), 0);
  const input = sum(usage.input, prices.input_per_mtok);
  const output = sum(usage.output, prices.output_per_mtok);
  const minutes = call.durationS === undefined ? 0 : Math.ceil(call.durationS / 60);
  // A playground call never touches the phone network: Gemini's share only.
  const telephony = call.direction === 'playground' ? 0 : minutes * prices.telephony_per_min[call.direction];
  const r = (v: number) => Math.round(v * 1e6) / 1e6;
  return {
    currency: prices.currency,
    total: r(input + output + telephony),
    gemini_input: r(input),
    gemini_output: r(output),
    telephony: r(telephony),
  };
}
