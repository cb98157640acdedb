// The capacity plot, hand-written SVG: gateway CPU per call-second (user + system, left axis) and the p99
// latencies against their 20 ms gate (right axis), against concurrent calls. No charting library.
import type { BenchRow } from '../types.ts';

const W = 720;
const H = 400;
const L = 70;
const R = 70;
const T = 40;
const B = 50;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function capacitySvg(rows: readonly BenchRow[], o: { title: string; gates: { latencyP99Ms: number } }): string {
  const pts = rows.filter((r) => r.calls !== undefined);
  const num = (r: BenchRow, k: string) => {
    const v = r.extra?.[k];
    return typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN;
  };
  const xMax = niceMax(Math.max(...pts.map((r) => r.calls!), 1));
  const cpuMax = niceMax(Math.max(...pts.map((r) => num(r, 'gwCpuUsPerCallS')).filter(Number.isFinite), 1));
  const latKeys = [
    ['upP99Ms', 'uplink p99', '#d62728'],
    ['dlLateP99Ms', 'downlink lateness p99', '#9467bd'],
    ['gwLoopP99Ms', 'gateway loop p99', '#ff7f0e'],
  ] as const;
  const latMax = niceMax(
    Math.max(
      o.gates.latencyP99Ms * 1.5,
      ...pts.flatMap((r) => latKeys.map(([k]) => num(r, k))).filter(Number.isFinite),
    ),
  );
  const x = (c: number) => L + ((W - L - R) * c) / xMax;
  const yCpu = (v: number) => H - B - ((H - T - B) * v) / cpuMax;
  const yLat = (v: number) => H - B - ((H - T - B) * Math.min(v, latMax)) / latMax;
  const line = (key: string, y: (v: number) => number, color: string, dash = '') => {
    const p = pts
      .filter((r) => Number.isFinite(num(r, key)))
      .map((r) => `${x(r.calls!).toFixed(1)},${y(num(r, key)).toFixed(1)}`);
    if (p.length === 0) return '';
    const dots = p
      .map((xy) => `<circle cx="${xy.split(',')[0]}" cy="${xy.split(',')[1]}" r="3" fill="${color}"/>`)
      .join('');
    return `<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${p.join(' ')}"/>${dots}`;
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(o.title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${W - R}" y1="${T}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const c = (xMax * i) / 5;
    const cpu = (cpuMax * i) / 5;
    const lat = (latMax * i) / 5;
    parts.push(
      `<text x="${x(c)}" y="${H - B + 16}" text-anchor="middle">${Math.round(c)}</text>`,
      `<text x="${L - 6}" y="${yCpu(cpu) + 4}" text-anchor="end">${Math.round(cpu)}</text>`,
      `<text x="${W - R + 6}" y="${yLat(lat) + 4}">${Math.round(lat)}</text>`,
      `<line x1="${L}" y1="${yCpu(cpu)}" x2="${W - R}" y2="${yCpu(cpu)}" stroke="#eee"/>`,
    );
  }
  parts.push(
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">concurrent calls</text>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">gateway CPU µs per call-second</text>`,
    `<text transform="translate(${W - 14} ${(T + H - B) / 2}) rotate(90)" text-anchor="middle">p99 latency ms</text>`,
    `<line x1="${L}" y1="${yLat(o.gates.latencyP99Ms)}" x2="${W - R}" y2="${yLat(o.gates.latencyP99Ms)}" stroke="#999" stroke-dasharray="6 4"/>`,
    `<text x="${W - R - 4}" y="${yLat(o.gates.latencyP99Ms) - 4}" text-anchor="end" fill="#666">${o.gates.latencyP99Ms} ms gate</text>`,
    line('gwCpuUsPerCallS', yCpu, '#1f77b4'),
    line('gwSysUsPerCallS', yCpu, '#17becf', '4 3'),
  );
  for (const [k, , color] of latKeys) parts.push(line(k, yLat, color, '2 2'));
  const legend = [
    ['CPU user+system', '#1f77b4'],
    ['CPU system', '#17becf'],
    ...latKeys.map(([, label, color]) => [label, color] as const),
  ];
  legend.forEach(([label, color], i) => {
    const ly = T + 8 + i * 16;
    parts.push(
      `<rect x="${L + 10}" y="${ly - 9}" width="12" height="4" fill="${color}"/>`,
      `<text x="${L + 28}" y="${ly - 3}">${esc(label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
