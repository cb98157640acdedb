// `npm run demo -- --playground [--port N]`: the gateway with both emulators and the browser playground on, no
// credentials. Prints the playground URL (with its generated token) and runs until Ctrl-C. The Gemini emulator
// plays the agent of scenarios/demo-order-status.json: it hears your voice (its VAD), but answers from its script,
// so any question gets the order-status conversation. With GEMINI_API_KEY set, `PLAYGROUND=true npm start` gives
// the same page in front of the real Gemini Live.
import { join } from 'node:path';
import pino from 'pino';
import { setRootLogger } from '../log.ts';
import { createPrinter } from './printer.ts';
import { startLocalStack } from './stack.ts';

const SCENARIO = join(import.meta.dirname, '../../scenarios/demo-order-status.json');

export async function runPlaygroundDemo(argv: readonly string[]): Promise<void> {
  setRootLogger(pino({ level: process.env.DEMO_LOG_LEVEL ?? 'error' }, pino.destination(2)));
  const portArg = argv.indexOf('--port');
  const port = portArg >= 0 ? Number(argv[portArg + 1]) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port needs a port number');
  const out = createPrinter(process.stdout);
  out.banner('Gemini Live × Plivo gateway · browser playground (emulated Gemini and Plivo, no credentials needed)');
  const stack = await startLocalStack({
    scenario: SCENARIO,
    playground: true,
    // A fictional transfer line, so transfer_call has somewhere to (pretend to) go.
    env: { LOG_LEVEL: 'error', SERVER_PORT: String(port), TRANSFER_NUMBER: '+14155550199' },
    manager: { onEvent: (_id, e) => out.event(e) },
  });
  const token = stack.playground?.token ?? '';
  out.note(`gateway ${stack.base} · Gemini emulator ${stack.gemini.baseUrl}`);
  out.note('The emulated agent follows scenarios/demo-order-status.json whatever you say; set GEMINI_API_KEY and');
  out.note('run `PLAYGROUND=true npm start` for a real conversation. Use headphones.');
  process.stdout.write(`\nOpen the playground: ${stack.base}/playground?token=${encodeURIComponent(token)}\n\n`);
  out.start();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  out.note('stopping…');
  await stack.close();
}
