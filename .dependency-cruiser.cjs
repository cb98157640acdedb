// The layers of docs/ARCHITECTURE.md as rules: `npm run lint:deps` fails on an import cycle or on a module that
// imports one meant to sit above it. A layer may import the layers below it and its own folder, nothing else.
// Parser: swc (dependency-cruiser's TypeScript support needs the `typescript` JS API, which TypeScript 7 does not
// have; swc reads our erasable TypeScript as is).

/** Lowest first: a layer name and its members (folders end in `/`, files in `.ts`, all under src/). */
const LAYERS = [
  // Ground floor: the call contract, errors, logs, probe channels and counters, and pure data leaves that config
  // validates against (the Gemini voice list, the credential parser, the price table): they import only this floor.
  ['ground', ['contract/', 'probes/', 'errors.ts', 'log.ts', 'gemini/voices.ts', 'gemini/credentials.ts', 'records/cost.ts']],
  ['config', ['config.ts']],
  // Parts that know one thing each: DSP, call store, Gemini Live client, webhook outbox, Kubernetes deletion cost.
  ['parts', ['audio/', 'store/', 'gemini/', 'webhooks-out/', 'k8s/']],
  // The Plivo edge protocol (stream codec, signatures, tokens, XML, REST client) and the recorder, over the DSP.
  ['edge', ['plivo/', 'recording/']],
  // The HTTP/WebSocket server, the tool registry, the wire observer.
  ['services', ['server/', 'tools/', 'observability/']],
  ['calls', ['calls/']],
  ['features', ['outbound/', 'playground/']],
  ['records', ['records/']],
  ['operator', ['operator/']],
  // Composition roots.
  ['roots', ['app.ts', 'main.ts', 'demo/', 'dev/', 'doctor/']],
];

const re = (member) => `^src/${member.replace(/[.]/g, '\\.')}${member.endsWith('/') ? '' : '$'}`;
const upward = LAYERS.flatMap(([name, members], i) => {
  const here = new Set(members);
  // Leaf files named in a lower layer (gemini/voices.ts…) are not part of their folder's layer.
  const lower = LAYERS.slice(0, i).flatMap(([, m]) => m);
  // The ground floor's members and the composition roots may use each other; other layers only reach down.
  const sideways = name === 'ground' || name === 'roots';
  const sameOrAbove = LAYERS.slice(sideways ? i + 1 : i).flatMap(([, m]) => m);
  if (sameOrAbove.length === 0) return [];
  return members.map((member) => ({
    name: `layer-${name}`,
    comment: `${name} (src/${member}) imports only the layers below it, and its own folder (docs/ARCHITECTURE.md)`,
    severity: 'error',
    from: { path: re(member), pathNot: lower.filter((m) => m.startsWith(member) && !here.has(m)).map(re) },
    to: {
      path: sameOrAbove.filter((m) => m !== member).map(re),
      pathNot: [re(member), ...lower.map(re)],
    },
  }));
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
    {
      name: 'emulators-stand-alone',
      comment: 'The emulators are the other parties: they import nothing of the gateway except src/log.ts',
      severity: 'error',
      from: { path: '^src/emulators/' },
      to: { path: '^src/', pathNot: ['^src/emulators/', '^src/log\\.ts$'] },
    },
    {
      name: 'gateway-not-on-emulators',
      comment: 'Only composition roots (demo, dev) may start an emulator',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/emulators/', '^src/(demo|dev)/'] },
      to: { path: '^src/emulators/' },
    },
    ...upward,
  ],
  options: {
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/playground/public/' },
  },
};
