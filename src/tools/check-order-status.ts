// Order lookup by order number or by the email the order was placed with.
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { Order, OrderSource } from './order-source.ts';
import { demoOrderSource, httpOrderSource } from './order-source.ts';
import { defineTool } from './registry.ts';
import { ToolFailure } from './types.ts';

const MAX_ORDERS_SPOKEN = 3;

const sources = new Map<string, OrderSource>();
/** One source per backend URL, created on first use (the demo file is read once). */
export function orderSourceFor(config: Config): OrderSource {
  const key = config.tools.orderApiUrl ?? '<demo>';
  let source = sources.get(key);
  if (!source) {
    source = config.tools.orderApiUrl ? httpOrderSource(config.tools.orderApiUrl) : demoOrderSource();
    sources.set(key, source);
  }
  return source;
}

const args = z
  .object({
    order_id: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .optional()
      .describe('Order number as the caller said it, e.g. "ORD-1001".'),
    email: z.email().max(254).optional().describe('Email address the order was placed with.'),
  })
  .refine((a) => a.order_id !== undefined || a.email !== undefined, {
    message: 'give order_id or email',
  });

export const checkOrderStatus = defineTool({
  name: 'check_order_status',
  description:
    "Look up an order's status, items, delivery estimate and tracking by order number or by the email address " +
    'the order was placed with. Ask the caller for one of them first; spell back what you heard if unsure.',
  args,
  async handler(a, ctx) {
    const source = orderSourceFor(ctx.config);
    const demo = source.kind === 'demo' ? { dataSource: 'demo data (sample orders, not a real system)' } : {};
    if (a.order_id !== undefined) {
      if (!/[A-Za-z0-9]/.test(a.order_id))
        throw new ToolFailure('That order number has no letters or digits.', ctx.callId);
      const order = await source.byId(a.order_id, ctx.signal);
      if (!order) {
        return {
          found: false,
          message: `No order found with number ${a.order_id}. Ask the caller to check it.`,
          ...demo,
        };
      }
      return { found: true, order: speakable(order), ...demo };
    }
    const orders = await source.byEmail(a.email ?? '', ctx.signal);
    if (orders.length === 0) {
      return { found: false, message: 'No orders found for that email address.', ...demo };
    }
    const recent = [...orders].sort((x, y) => (y.placedAt ?? '').localeCompare(x.placedAt ?? ''));
    return {
      found: true,
      orderCount: orders.length,
      orders: recent.slice(0, MAX_ORDERS_SPOKEN).map(speakable),
      ...demo,
    };
  },
});

/** What the model needs to answer; the email is left out so it is not read back to whoever is calling. */
function speakable(o: Order): Record<string, unknown> {
  const { email: _email, ...rest } = o;
  return rest;
}
