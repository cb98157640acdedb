// The fleet view of wire latency: four Prometheus histograms, created once per operator and registered on the
// gateway's registry when the operator's routes are mounted (next to src/server/metrics.ts's own metrics).
import client from 'prom-client';
import type { LatencySink } from './latency.ts';

export interface LatencyHistograms extends LatencySink {
  register(registry: client.Registry): void;
}

export function createLatencyHistograms(): LatencyHistograms {
  const greeting = new client.Histogram({
    name: 'gateway_greeting_latency_seconds',
    help: 'Answer webhook → first agent frame sent to Plivo (stage=sent) and → the first playedStream after it (stage=played)',
    labelNames: ['stage'] as const,
    buckets: [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    registers: [],
  });
  const response = new client.Histogram({
    name: 'gateway_response_latency_seconds',
    help: "Caller's end of speech (energy VAD on the uplink) → first frame of the agent's answer sent to Plivo",
    buckets: [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10],
    registers: [],
  });
  const bargeIn = new client.Histogram({
    name: 'gateway_barge_in_stop_seconds',
    help: "Caller's speech onset (energy VAD) → clearAudio sent (stage=clear_sent) → clearedAudio received (stage=cleared)",
    labelNames: ['stage'] as const,
    buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
    registers: [],
  });
  const gaps = new client.Histogram({
    name: 'gateway_agent_gap_seconds',
    help: 'Gaps inside agent turns: how late a frame was sent after the audio before it had run out',
    buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
    registers: [],
  });
  return {
    greeting: (stage, ms) => greeting.observe({ stage }, ms / 1000),
    response: (ms) => response.observe(ms / 1000),
    bargeIn: (stage, ms) => bargeIn.observe({ stage }, ms / 1000),
    gap: (ms) => gaps.observe(ms / 1000),
    register(registry) {
      const all: Array<[string, client.Metric]> = [
        ['gateway_greeting_latency_seconds', greeting],
        ['gateway_response_latency_seconds', response],
        ['gateway_barge_in_stop_seconds', bargeIn],
        ['gateway_agent_gap_seconds', gaps],
      ];
      for (const [name, m] of all) if (!registry.getSingleMetric(name)) registry.registerMetric(m);
    },
  };
}
