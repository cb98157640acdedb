// Where orders come from: the real order backend (ORDER_API_URL) over HTTP, or the bundled demo data file when no
// backend is configured. Both answer with the same validated, trimmed shape so the model never sees raw backend
// payloads.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { GatewayError } from '../errors.ts';

export const orderSchema = z.object({
  orderId: z.string().min(1).max(64),
  email: z.string().max(254).optional(),
  customerName: z.string().max(200).optional(),
  status: z.string().min(1).max(64),
  placedAt: z.string().max(64).optional(),
  items: z
    .array(z.object({ name: z.string().max(200), quantity: z.number().int().min(0).max(100_000).optional() }))
    .max(100)
    .optional(),
  total: z.number().optional(),
  currency: z.string().max(8).optional(),
  carrier: z.string().max(64).optional(),
  trackingNumber: z.string().max(64).optional(),
  estimatedDelivery: z.string().max(64).optional(),
  deliveredAt: z.string().max(64).optional(),
  note: z.string().max(500).optional(),
});

export type Order = z.output<typeof orderSchema>;

export interface OrderSource {
  readonly kind: 'http' | 'demo';
  byId(orderId: string, signal: AbortSignal): Promise<Order | undefined>;
  byEmail(email: string, signal: AbortSignal): Promise<Order[]>;
}

/** Spoken order numbers come with spaces, dashes and lower case: compare on letters and digits only. */
export function normaliseOrderId(id: string): string {
  return id.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

const MAX_BODY_BYTES = 256 * 1024;

export function httpOrderSource(baseUrl: string): OrderSource {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    kind: 'http',
    async byId(orderId, signal) {
      const body = await getJson(`${base}/orders/${encodeURIComponent(orderId)}`, signal);
      if (body === undefined) return undefined;
      const orders = parseOrders(body);
      return orders[0];
    },
    async byEmail(email, signal) {
      const body = await getJson(`${base}/orders?email=${encodeURIComponent(email)}`, signal);
      return body === undefined ? [] : parseOrders(body);
    },
  };
}

/** Accepts an order, an array of orders, or `{ orders: [...] }`; anything else is a backend error. */
function parseOrders(body: unknown): Order[] {
  const list = Array.isArray(body)
    ? body
    : body && typeof body === 'object' && Array.isArray((body as { orders?: unknown }).orders)
      ? (body as { orders: unknown[] }).orders
      : [body];
  const parsed = z.array(orderSchema).max(1000).safeParse(list);
  if (!parsed.success) {
    throw new GatewayError('GW_ERR_TOOL', 'order backend answered with an unexpected shape', {
      detail: { issues: parsed.error.issues.slice(0, 3).map((i) => i.message) },
    });
  }
  return parsed.data;
}

async function getJson(url: string, signal: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { headers: { accept: 'application/json' }, signal });
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new GatewayError('GW_ERR_TOOL', `order backend answered ${res.status}`, {
      retryable: res.status >= 500,
      detail: { status: res.status },
    });
  }
  const text = await readLimited(res, MAX_BODY_BYTES);
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('GW_ERR_TOOL', 'order backend answered with invalid JSON');
  }
}

async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new GatewayError('GW_ERR_TOOL', 'order backend answer is too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const demoFileSchema = z.object({ notice: z.string(), orders: z.array(orderSchema) });

export const DEMO_ORDERS_FILE = new URL('../../data/demo-orders.json', import.meta.url);

/** The bundled sample orders (demo data, labelled so in the file and in every answer built from it). */
export function demoOrderSource(file: URL | string = DEMO_ORDERS_FILE): OrderSource {
  const data = demoFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const byId = new Map(data.orders.map((o) => [normaliseOrderId(o.orderId), o]));
  return {
    kind: 'demo',
    async byId(orderId) {
      return byId.get(normaliseOrderId(orderId));
    },
    async byEmail(email) {
      const wanted = email.trim().toLowerCase();
      return data.orders.filter((o) => o.email?.toLowerCase() === wanted);
    },
  };
}
