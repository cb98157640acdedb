// Process entry: configuration, audio engine, Plivo REST client, call router, gateway, signals.
import { setFlagsFromString } from 'node:v8';
import dotenv from 'dotenv';
import { composeGateway } from './app.ts';
import { createAudioEngine } from './audio/engine.ts';
import { type Config, loadConfig } from './config.ts';
import { ConfigError, errorMessage } from './errors.ts';
import { deletionCostFromConfig } from './k8s/deletion-cost.ts';
import { childLogger, rootLogger } from './log.ts';
import { plivoRestClientFromConfig } from './plivo/rest-client.ts';

async function main(): Promise<void> {
  // ENV_FILE names another file (or /dev/null, as `npm run dev` does, so a developer's real .env stays out of a
  // local stack); values already in the environment always win.
  dotenv.config({ quiet: true, path: process.env.ENV_FILE ?? '.env' });
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  rootLogger().level = config.server.logLevel;
  const logger = childLogger({ component: 'main' });
  // V8 sizes the old generation after each full collection at the live heap times a factor it adapts to how cheap
  // collections look (1.1 to 4). Under calls it often settles near the bottom: the gateway then runs a full
  // mark-compact every 0.4 s instead of every few seconds (40 to 50 in a 25 s window against 2 to 8), its marking
  // threads take the gateway's core from the event loop, and the latency p99s cross 20 ms at loads that otherwise
  // pass (bench:capacity at 250 calls, --trace-gc: README "Capacity"). Which way a run goes is decided early and by
  // chance. A fixed factor takes the chance out. The flag is read at every full collection, so setting it here, before
  // the first call, holds; NODE_OPTIONS cannot carry it (Node refuses V8 flags it does not list).
  if (config.server.heapGrowingPercent > 0) {
    setFlagsFromString(`--heap-growing-percent=${config.server.heapGrowingPercent}`);
  }
  // The image and `npm start` run Node with --single-threaded-gc (Dockerfile: why); it cannot be set from here (V8
  // aborts at the next collection when it is changed after start), so the log says which way this process runs.
  logger.info(
    {
      heapGrowingPercent: config.server.heapGrowingPercent,
      // The last of the pair wins, as in V8 (a --no- form after it undoes it).
      singleThreadedGc:
        process.execArgv.findLast((a) => a === '--single-threaded-gc' || a === '--no-single-threaded-gc') ===
        '--single-threaded-gc',
    },
    'V8 garbage collection',
  );

  const { engine: audio, warning } = await createAudioEngine(config.audio);
  if (warning !== undefined) logger.warn({ backend: audio.backend }, warning);
  const plivoApi = plivoRestClientFromConfig(config);
  const { gateway, calls } = await composeGateway({ config, audio, plivoApi });
  // In a Kubernetes pod: keep this pod's deletion cost at its call count so scale-in removes idle pods first.
  const deletionCost = await deletionCostFromConfig(
    config.kubernetes,
    () => calls.router.activeCalls(),
    childLogger({ component: 'k8s' }),
  );

  if (config.plivo.autoConfigure) {
    const base = gateway.publicUrl;
    plivoApi
      .configureNumber(config.plivo.phoneNumber, { answerUrl: `${base}/answer`, hangupUrl: `${base}/hangup` })
      .then(({ appId }) => logger.info({ appId }, `Ready! Call ${config.plivo.phoneNumber} to test`))
      .catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'Plivo auto-configuration failed'));
  } else {
    logger.info(`Ready. Point ${config.plivo.phoneNumber}'s answer URL at ${gateway.publicUrl}/answer`);
  }

  if (calls.playground) {
    // A generated token is known to nobody else, so it is printed; a configured one is not repeated in logs.
    const pg = calls.playground;
    const url = `${gateway.publicUrl}/playground?token=${pg.generatedToken ? pg.token : '<PLAYGROUND_TOKEN>'}`;
    logger.warn({ url }, `PLAYGROUND=true: talk to the agent in a browser at ${url}`);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: closing now');
      void gateway.close().finally(() => process.exit(1));
      return;
    }
    stopping = true;
    logger.info({ signal, drainTimeoutS: config.server.drainTimeoutS }, 'shutting down: draining calls');
    // The pod is already being deleted: its deletion cost no longer matters.
    void deletionCost?.stop();
    gateway
      .drain()
      .then(() => gateway.close())
      .then(() => calls.close())
      .then(() => audio.close())
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  rootLogger().fatal({ err: errorMessage(err) }, 'gateway failed to start');
  process.exit(1);
});
