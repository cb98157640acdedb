// Runs the Gemini Live emulator on its own, for the demo and for manual runs against the gateway:
//   node src/emulators/gemini-live/cli.ts --port 9100 --scenario scenarios/demo-order-status.json
import { parseArgs } from 'node:util';
import { childLogger } from '../../log.ts';
import { type GeminiLiveEmulatorOptions, startGeminiLiveEmulator } from './index.ts';

const HELP = `Gemini Live (BidiGenerateContent) emulator

Usage: node src/emulators/gemini-live/cli.ts --scenario <file.json> [options]

  --scenario <path>        scenario JSON file (required; see src/emulators/gemini-live/README.md)
  --host <addr>            listen address (default 127.0.0.1)
  --port <n>               listen port (default 0 = ephemeral; the URL is printed)
  --api-key <key>          require ?key=<key>; a missing or wrong key gets close 1008 (default: accept any key)
  --model <id>             serve only this model and its profile (default: every model in the profile table)
  --speech <mode>          auto | espeak | synthetic (default: the scenario's)
  --no-realtime            send agent audio as fast as possible instead of pacing it
  --speedup <x>            pacing speed factor (default 1)
  --chunk-ms <ms>          audio per inlineData chunk (default 40)
  --vad-threshold <dbfs>   caller speech threshold (default -40)
  --end-silence-ms <ms>    silence that ends a caller turn (default: setup's silenceDurationMs, else 500)
  --text-frames            send JSON in text frames (the real service uses binary frames)
  --any-model              accept any model id in setup (unknown ids get the strictest profile)
  --connection-ms <ms>     connection lifetime before the deadline close (default 600000; 0 = unlimited)
  --go-away-lead-ms <ms>   goAway this long before the end of the connection (default 60000)
  --max-sessions-per-key <n>  concurrent sessions per API key; one more gets the 1011 quota close
  --quota-after-sessions <n>  connections after the first n get the 1011 quota close
  --silent-turns <n|all>   the next n agent turns come out silent (turnComplete without audio)
  --silent-turn-audio <m>  none | near-zero: what a silent turn carries (default none)
  --setup-never-completes <n|all>  never send setupComplete to the first n connections
  -h, --help               this text

Point the gateway at it with GOOGLE_GEMINI_BASE_URL=<printed URL> (or httpOptions.baseUrl).
`;

function count(v: string | undefined, name: string): boolean | number | undefined {
  if (v === 'all') return true;
  return num(v, name);
}

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'api-key': { type: 'string' },
      speech: { type: 'string' },
      'no-realtime': { type: 'boolean' },
      speedup: { type: 'string' },
      'chunk-ms': { type: 'string' },
      'vad-threshold': { type: 'string' },
      'end-silence-ms': { type: 'string' },
      'text-frames': { type: 'boolean' },
      'any-model': { type: 'boolean' },
      model: { type: 'string' },
      'connection-ms': { type: 'string' },
      'go-away-lead-ms': { type: 'string' },
      'max-sessions-per-key': { type: 'string' },
      'quota-after-sessions': { type: 'string' },
      'silent-turns': { type: 'string' },
      'silent-turn-audio': { type: 'string' },
      'setup-never-completes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (!values.scenario) throw new Error('--scenario is required (see --help)');
  const speech = values.speech;
  if (speech !== undefined && speech !== 'auto' && speech !== 'espeak' && speech !== 'synthetic') {
    throw new Error('--speech must be auto, espeak or synthetic');
  }
  const opts: GeminiLiveEmulatorOptions = {
    scenario: values.scenario,
    host: values.host ?? '127.0.0.1',
    port: num(values.port, 'port') ?? 0,
    timing: {
      realtime: !values['no-realtime'],
      speedup: num(values.speedup, 'speedup') ?? 1,
      chunkMs: num(values['chunk-ms'], 'chunk-ms') ?? 40,
    },
    vad: {
      thresholdDbfs: num(values['vad-threshold'], 'vad-threshold'),
      endSilenceMs: num(values['end-silence-ms'], 'end-silence-ms'),
    },
    serverFrames: values['text-frames'] ? 'text' : 'binary',
    limits: {
      connectionMs: num(values['connection-ms'], 'connection-ms'),
      goAwayLeadMs: num(values['go-away-lead-ms'], 'go-away-lead-ms'),
      maxSessionsPerKey: num(values['max-sessions-per-key'], 'max-sessions-per-key'),
    },
    faults: {
      quotaAfterSessions: num(values['quota-after-sessions'], 'quota-after-sessions'),
      silentTurns: count(values['silent-turns'], 'silent-turns'),
      setupNeverCompletes: count(values['setup-never-completes'], 'setup-never-completes'),
    },
  };
  const silentAudio = values['silent-turn-audio'];
  if (silentAudio !== undefined) {
    if (silentAudio !== 'none' && silentAudio !== 'near-zero')
      throw new Error('--silent-turn-audio must be none or near-zero');
    opts.faults!.silentTurnAudio = silentAudio;
  }
  if (values.model !== undefined) opts.model = values.model;
  if (values['api-key'] !== undefined) opts.apiKey = values['api-key'];
  if (speech !== undefined) opts.speech = speech;
  if (values['any-model']) opts.models = 'any';
  const log = childLogger({ component: 'gemini-live-emulator-cli' });
  const emu = await startGeminiLiveEmulator(opts);
  emu.on('session', (s) => {
    log.info({ session: s.id }, 'session opened');
    s.on('turnStart', (t) => log.info({ session: s.id, turn: t }, 'agent turn'));
    s.on('toolCall', (c) => log.info({ session: s.id, call: c }, 'tool call'));
    s.closed.then((c) => log.info({ session: s.id, code: c.code, reason: c.reason }, 'session closed'));
  });
  process.stdout.write(`${emu.baseUrl}\n`);
  const stop = (): void => {
    emu.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
});
