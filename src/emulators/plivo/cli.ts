// Command line for the Plivo emulator: place one call against a running gateway, or serve the REST API alone.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { setRootLogger } from '../../log.ts';
import { startPlivoEmulator } from './index.ts';
import type { AudioSource, OutboundBehaviour } from './types.ts';
import { encodeWav } from './wav.ts';

const HELP = `Plivo emulator

Usage:
  node src/emulators/plivo/cli.ts call --answer-url URL --from NUMBER --to NUMBER [options]
  node src/emulators/plivo/cli.ts serve [--port 9000] [options]

call: places one inbound call (signed answer webhook, <Stream>, paced media), prints a JSON summary.
  --answer-url URL     the gateway's answer webhook (required)
  --hangup-url URL     hangup callback (default: none)
  --from, --to NUMBER  E.164 numbers (required)
  --wav FILE           caller audio (any WAV; converted to the stream format); default: silence
  --tone HZ            caller audio: a 1 s tone instead of a WAV
  --seconds N          hang up after N seconds (default 10) unless the gateway ends the call first
  --dtmf DIGITS        send these DTMF digits 1 s into the call
  --save-played FILE   write what the gateway played as a 8 kHz 16-bit WAV
  --signature MODE     valid | invalid | none (default valid)
  --port N             REST API port for this run (default ephemeral)

serve: runs the REST API (/v1/Account/{auth_id}/…) until interrupted; outbound calls are simulated.
  --port N             default 9000
  --host HOST          default 127.0.0.1
  --outbound KIND      answer | busy | no-answer | failed | machine (default answer)
  --outbound-wav FILE  what answered outbound callees say
  --fail-first N       fail the first N requests (with --fail-status, default 500)
  --cps N              answer 429 beyond N call creations per second

Common:
  --auth-id ID         default $PLIVO_AUTH_ID or MAEMULATOR0000000000
  --auth-token TOKEN   default $PLIVO_AUTH_TOKEN or emulator-auth-token
  --help
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean' },
      'answer-url': { type: 'string' },
      'hangup-url': { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      wav: { type: 'string' },
      tone: { type: 'string' },
      seconds: { type: 'string' },
      dtmf: { type: 'string' },
      'save-played': { type: 'string' },
      signature: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      outbound: { type: 'string' },
      'outbound-wav': { type: 'string' },
      'fail-first': { type: 'string' },
      'fail-status': { type: 'string' },
      cps: { type: 'string' },
      'auth-id': { type: 'string' },
      'auth-token': { type: 'string' },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const authId = values['auth-id'] ?? process.env.PLIVO_AUTH_ID ?? 'MAEMULATOR0000000000';
  const authToken = values['auth-token'] ?? process.env.PLIVO_AUTH_TOKEN ?? 'emulator-auth-token';

  if (cmd === 'serve') {
    const kind = values.outbound ?? 'answer';
    if (!['answer', 'busy', 'no-answer', 'failed', 'machine'].includes(kind)) return usage(`bad --outbound ${kind}`);
    const audio: AudioSource | undefined = values['outbound-wav']
      ? { kind: 'wav', path: values['outbound-wav'] }
      : undefined;
    const behaviour = (kind === 'answer' || kind === 'machine' ? { kind, audio } : { kind }) as OutboundBehaviour;
    const failStatus = Number(values['fail-status'] ?? 500);
    if (failStatus !== 429 && failStatus !== 500 && failStatus !== 503)
      return usage('--fail-status must be 429, 500 or 503');
    const emu = await startPlivoEmulator({
      authId,
      authToken,
      host: values.host ?? '127.0.0.1',
      port: int(values.port, 9000),
      outbound: () => behaviour,
      faults: {
        failFirst: int(values['fail-first'], 0),
        failStatus,
        callsPerSecond: values.cps ? Number(values.cps) : undefined,
      },
    });
    process.stdout.write(`Plivo emulator REST API at ${emu.restBaseUrl}/v1/Account/${authId}/\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await emu.close();
    return 0;
  }

  if (cmd === 'call') {
    const answerUrl = values['answer-url'];
    if (!answerUrl || !values.from || !values.to) return usage('call needs --answer-url, --from and --to');
    const signature = values.signature ?? 'valid';
    if (signature !== 'valid' && signature !== 'invalid' && signature !== 'none') return usage('bad --signature');
    const audio: AudioSource | undefined = values.wav
      ? { kind: 'wav', path: values.wav }
      : values.tone
        ? { kind: 'tone', hz: Number(values.tone), ms: 1000 }
        : undefined;
    const seconds = Number(values.seconds ?? 10);
    if (!(seconds > 0)) return usage('--seconds must be positive');
    const emu = await startPlivoEmulator({ authId, authToken, port: int(values.port, 0) });
    process.stderr.write(`REST API for this run: ${emu.restBaseUrl}\n`);
    const call = await emu.placeInboundCall({
      answerUrl,
      hangupUrl: values['hangup-url'],
      from: values.from,
      to: values.to,
      audio,
      signature,
    });
    if (values.dtmf && call.streamId) {
      const digits = values.dtmf;
      setTimeout(() => {
        try {
          call.sendDtmf(digits);
        } catch (err) {
          process.stderr.write(`dtmf: ${(err as Error).message}\n`);
        }
      }, 1000).unref();
    }
    const timer = setTimeout(() => void call.hangup(), seconds * 1000);
    await Promise.race([call.completed, call.ended]);
    clearTimeout(timer);
    await call.hangup();
    const pcm = call.playedPcm8k();
    if (values['save-played']) await writeFile(values['save-played'], encodeWav(pcm, 8000));
    const summary = {
      callUuid: call.callUuid,
      answerStatus: call.answerStatus,
      streamUrl: call.streamUrl,
      streamId: call.streamId,
      status: call.status,
      playedMs: Math.round(pcm.length / 8),
      received: countBy(call.received.map((e) => e.event)),
      errors: call.errors,
      hangup: call.hangupParams,
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    await emu.close();
    return call.errors.length === 0 && call.streamId ? 0 : 1;
  }
  return usage(`unknown command ${cmd}`);
}

function usage(msg: string): number {
  process.stderr.write(`${msg}\n\n${HELP}`);
  return 2;
}

function int(v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${v}`);
  return n;
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

// stdout carries the call summary; logs go to stderr.
setRootLogger(pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2)));

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
