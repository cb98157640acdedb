// Health, readiness, metrics, extra routes, capacity and graceful drain of the gateway.
import { describe, expect, it } from 'vitest';
import { createEchoAgent } from '../../src/demo/echo-agent.ts';
import { CLOSE_CODES } from '../../src/plivo/stream-session.ts';
import { Reply } from '../../src/server/http.ts';
import { CALLER, OUR_NUMBER, startHarness, until } from '../plivo/helpers/harness.ts';

const getJson = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('gateway', () => {
  it('serves healthz, readyz, metrics, mounted routes and 404', async () => {
    const agent = createEchoAgent();
    const h = await startHarness(agent, {
      gateway: {
        defaultMetrics: true,
        sampleEvery: 4,
        routes: [
          (app, deps) => {
            app.get('/outbound/ping', (res) => new Reply(res).json(200, { pong: true, publicUrl: deps.publicUrl() }));
          },
        ],
      },
    });
    try {
      const health = await getJson(`${h.base}/healthz`);
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({
        status: 'ok',
        audio: { backend: h.audio.backend, execution: 'inline' },
        draining: false,
      });
      expect(await getJson(`${h.base}/readyz`)).toEqual({ status: 200, body: { ready: true } });
      // The Python example's health check, kept for its users' monitors; no internal figures on a public path.
      expect(await getJson(`${h.base}/`)).toEqual({
        status: 200,
        body: { status: 'ok', service: 'gemini-plivo-gateway' },
      });
      expect(await getJson(`${h.base}/outbound/ping`)).toEqual({
        status: 200,
        body: { pong: true, publicUrl: h.base },
      });
      expect((await fetch(`${h.base}/nope`)).status).toBe(404);

      const call = await h.emulator.placeInboundCall({
        answerUrl: `${h.base}/answer`,
        from: CALLER,
        to: OUR_NUMBER,
        idleMedia: 'none',
        audio: { kind: 'tone', hz: 500, ms: 400 },
      });
      const ac = await agent.waitForCall(call.callUuid);
      await until(() => ac.framesIn >= 20 && call.playedUlaw().length >= 160 * 18, 3000, 'audio both ways');
      const res = await fetch(`${h.base}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const m = await res.text();
      expect(m).toMatch(/gateway_active_calls 1/);
      expect(m).toMatch(/gateway_active_streams 1/);
      expect(m).toMatch(/gateway_frames_in_total (\d+)/);
      expect(Number(/gateway_frames_in_total (\d+)/.exec(m)![1])).toBeGreaterThanOrEqual(20);
      expect(Number(/gateway_frames_out_total (\d+)/.exec(m)![1])).toBeGreaterThanOrEqual(18);
      expect(m).toMatch(/gateway_frame_processing_microseconds_bucket\{[^}]*direction="uplink"/);
      expect(m).toMatch(/gateway_webhook_requests_total\{route="answer",status="200"\} 1/);
      expect(m).toMatch(/gateway_webhook_requests_total\{route="stream-upgrade",status="101"\} 1/);
      expect(m).toMatch(/process_cpu_user_seconds_total/);
      expect(m).toMatch(/nodejs_eventloop_lag_seconds/);
      // The series the shipped alerts (k8s/monitoring/prometheusrule.yaml) read exist from the first scrape.
      expect(m).toMatch(/gateway_gemini_reconnects_total\{kind="fresh"\} \d+/);
      expect(m).toMatch(/gateway_gemini_silent_turns_total \d+/);
      expect(m).toMatch(/gateway_gemini_uplink_messages_total\{size="quiet"\} \d+/);
      expect(m).toMatch(/gateway_drain_deadline_calls_total\{outcome="migrated"\} 0/);
      expect(m).toMatch(/gateway_drain_deadline_calls_total\{outcome="hung_up"\} 0/);
      expect(m).toMatch(/gateway_call_setup_failures_total\{reason="gemini-connect"\} \d+/);
      // The pacer's worst tick interval since the last scrape (0 here: the echo's frames leave at once on wake).
      expect(m).toMatch(/gateway_pacer_max_interval_seconds [\d.e-]+/);
      await call.hangup();
    } finally {
      await h.close();
      await h.gateway.close(); // idempotent
    }
  });

  it('refuses new calls politely at MAX_CALLS and reports not ready', async () => {
    const agent = createEchoAgent();
    const h = await startHarness(agent, { env: { MAX_CALLS: '1' } });
    try {
      const first = await h.emulator.placeInboundCall({ answerUrl: `${h.base}/answer`, from: CALLER, to: OUR_NUMBER });
      await agent.waitForCall(first.callUuid);
      expect(await getJson(`${h.base}/readyz`)).toEqual({
        status: 503,
        body: { ready: false, reason: 'at MAX_CALLS' },
      });
      const second = await h.emulator.placeInboundCall({ answerUrl: `${h.base}/answer`, from: CALLER, to: OUR_NUMBER });
      expect(second.answerStatus).toBe(200);
      expect(second.answerXml).toContain('<Hangup reason="busy"/>');
      expect(second.streamUrl).toBeUndefined();
      await first.hangup();
      await until(() => agent.activeCalls() === 0, 2000, 'call ended');
      expect((await getJson(`${h.base}/readyz`)).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('drains: not ready, new calls refused, active calls keep flowing until they end', async () => {
    const agent = createEchoAgent();
    const h = await startHarness(agent, { env: { DRAIN_TIMEOUT_S: '10' } });
    try {
      const active = await h.emulator.placeInboundCall({
        answerUrl: `${h.base}/answer`,
        from: CALLER,
        to: OUR_NUMBER,
        idleMedia: 'none',
      });
      const ac = await agent.waitForCall(active.callUuid);
      let drained = false;
      const drain = h.gateway.drain().then(() => {
        drained = true;
      });
      expect(h.gateway.draining).toBe(true);
      await until(() => agent.closed, 1000, 'router.close() called');
      expect(await getJson(`${h.base}/readyz`)).toEqual({ status: 503, body: { ready: false, reason: 'draining' } });
      expect((await getJson(`${h.base}/healthz`)).status).toBe(200);
      const late = await h.emulator.placeInboundCall({ answerUrl: `${h.base}/answer`, from: CALLER, to: OUR_NUMBER });
      expect(late.answerXml).toContain('<Hangup reason="busy"/>');
      // The call answered before the drain still has its audio.
      await active.sendAudio({ kind: 'tone', hz: 600, ms: 200 });
      await until(() => ac.framesIn >= 10, 2000, 'audio during drain');
      await new Promise((r) => setTimeout(r, 100));
      expect(drained).toBe(false);
      const t0 = Date.now();
      await active.hangup();
      await drain;
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await h.close();
    }
  });

  it('gives up waiting at DRAIN_TIMEOUT_S and closes remaining streams with 1001', async () => {
    const agent = createEchoAgent();
    const h = await startHarness(agent, { env: { DRAIN_TIMEOUT_S: '1' } });
    try {
      const call = await h.emulator.placeInboundCall({ answerUrl: `${h.base}/answer`, from: CALLER, to: OUR_NUMBER });
      const ac = await agent.waitForCall(call.callUuid);
      const t0 = Date.now();
      await h.gateway.drain();
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      // This router cannot move calls: the call still up at the deadline is counted as hung up.
      expect(await h.gateway.metrics.metrics()).toMatch(/gateway_drain_deadline_calls_total\{outcome="hung_up"\} 1/);
      await h.gateway.close();
      expect(await ac.endedAt).toBe('shutdown');
      expect((await call.ended).code).toBe(CLOSE_CODES.goingAway);
    } finally {
      await h.close();
    }
  });
});
