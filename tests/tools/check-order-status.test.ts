import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOrderStatus } from '../../src/tools/check-order-status.ts';
import { normaliseOrderId } from '../../src/tools/order-source.ts';
import { ToolRegistry } from '../../src/tools/registry.ts';
import { toolContext } from './helpers.ts';

const never = () => new AbortController().signal;
const reg = (timeoutMs = 2000) => new ToolRegistry([{ ...checkOrderStatus, timeoutMs }] as never, timeoutMs);
const run = (r: ToolRegistry, args: Record<string, unknown>, env?: Record<string, string>) =>
  r.run({ id: 'c1', name: 'check_order_status', args }, toolContext({ env }).ctx, never());

describe('check_order_status with the bundled demo data', () => {
  it('finds an order by spoken-style number and labels the answer as demo data', async () => {
    const out = await run(reg(), { order_id: 'ord 1001' });
    expect(out.outcome).toBe('ok');
    expect(out.response).toMatchObject({
      found: true,
      order: { orderId: 'ORD-1001', status: 'shipped', carrier: 'UPS' },
      dataSource: expect.stringContaining('demo data'),
    });
    expect(JSON.stringify(out.response)).not.toContain('@example.com');
  });

  it('finds orders by email, most recent first', async () => {
    const out = await run(reg(), { email: 'Alex.Rivera@example.com' });
    expect(out.response).toMatchObject({ found: true, orderCount: 2 });
    const orders = out.response.orders as Array<{ orderId: string }>;
    expect(orders.map((o) => o.orderId)).toEqual(['ORD-1001', 'ORD-1003']);
  });

  it('says when nothing matches', async () => {
    expect((await run(reg(), { order_id: 'ORD-9999' })).response).toMatchObject({ found: false });
    expect((await run(reg(), { email: 'nobody@example.com' })).response).toMatchObject({ found: false });
  });

  it('rejects bad arguments', async () => {
    for (const args of [
      {},
      { email: 'not-an-email' },
      { order_id: '' },
      { order_id: 'x'.repeat(65) },
      { order_id: 7 },
    ]) {
      const out = await run(reg(), args);
      expect(out.outcome).toBe('error');
    }
    const punct = await run(reg(), { order_id: '---' });
    expect(punct.response.error).toMatch(/no letters or digits/);
  });

  it('normalises order numbers', () => {
    expect(normaliseOrderId(' ord-10 01 ')).toBe('ORD1001');
  });
});

describe('check_order_status against ORDER_API_URL', () => {
  let server: Server;
  let url: string;
  const seen: string[] = [];
  let mode: 'ok' | 'garbage' | 'shape' | 'slow' | 'error' | 'huge' = 'ok';

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      const send = (status: number, body: string) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body);
      };
      if (mode === 'slow') return; // never answers
      if (mode === 'error') return send(503, '{"error":"down"}');
      if (mode === 'garbage') return send(200, '{not json');
      if (mode === 'shape') return send(200, JSON.stringify({ orderId: 5, status: null }));
      if (mode === 'huge') return send(200, JSON.stringify({ orders: [], pad: 'x'.repeat(400_000) }));
      if (req.url?.startsWith('/api/orders/A-1')) {
        return send(200, JSON.stringify({ orderId: 'A-1', status: 'in transit', email: 'a@b.co', secret: 'drop' }));
      }
      if (req.url?.startsWith('/api/orders?email=')) {
        return send(200, JSON.stringify({ orders: [{ orderId: 'A-2', status: 'delivered', placedAt: '2026-01-01' }] }));
      }
      send(404, '{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('GETs /orders/{id} and /orders?email=, keeping only known fields', async () => {
    mode = 'ok';
    const env = { ORDER_API_URL: url };
    const byId = await run(reg(), { order_id: 'A-1' }, env);
    expect(byId.response).toEqual({ found: true, order: { orderId: 'A-1', status: 'in transit' } });
    const byEmail = await run(reg(), { email: 'a@b.co' }, env);
    expect(byEmail.response).toMatchObject({ found: true, orders: [{ orderId: 'A-2' }] });
    const missing = await run(reg(), { order_id: 'Z-9' }, env);
    expect(missing.response).toMatchObject({ found: false });
    expect(missing.response.dataSource).toBeUndefined();
    expect(seen).toContain('/api/orders/A-1');
    expect(seen).toContain('/api/orders?email=a%40b.co');
  });

  it('turns backend failures, bad JSON, bad shapes and oversized answers into spoken errors', async () => {
    const env = { ORDER_API_URL: url };
    for (const m of ['error', 'garbage', 'shape', 'huge'] as const) {
      mode = m;
      const out = await run(reg(), { order_id: 'A-1' }, env);
      expect(out.outcome, m).toBe('error');
      expect(String(out.response.error)).toMatch(/temporary system problem/);
    }
  });

  it('times out a backend that never answers', async () => {
    mode = 'slow';
    const out = await run(reg(100), { order_id: 'A-1' }, { ORDER_API_URL: url });
    expect(out.outcome).toBe('timeout');
    mode = 'ok';
  });
});
