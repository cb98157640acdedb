// The gateway's call-handling side, composed from configuration: call store (memory or Redis), outbound API and
// dialer, and the CallManager that runs one Gemini Live session per call. `src/main.ts` puts it behind the uWS
// server; tests and the demo compose the same parts around emulators (src/demo/stack.ts).
import { CallManager } from './calls/call-manager.ts';
import type { CallRouter } from './contract/call.ts';
import type { Config } from './config.ts';
import { createLiveSession } from './gemini/live-session.ts';
import { createOperator, type Operator } from './operator/index.ts';
import { createOutbound, type Outbound } from './outbound/index.ts';
import type { PlivoApi } from './plivo/api-types.ts';
import { Playground } from './playground/index.ts';
import { playgroundRoute } from './playground/route.ts';
import type { RouteModule } from './server/deps.ts';
import { createCallStore } from './store/index.ts';
import type { CallStore } from './store/types.ts';

export interface CallSide {
  /** What the gateway calls on webhooks and streams: outbound status updates in front of the CallManager. */
  router: CallRouter;
  /** HTTP routes to mount on the gateway (the outbound API). */
  routes: RouteModule[];
  manager: CallManager;
  outbound: Outbound;
  /** Wire latency, call records API, recordings, post-call webhook. */
  operator: Operator;
  store: CallStore;
  /** The browser playground, when PLAYGROUND=true. */
  playground: Playground | undefined;
  /** After the gateway has drained: stops the dialer and closes the store (idempotent). */
  close(): Promise<void>;
}

export function createCallSide(config: Config, plivoApi: PlivoApi): CallSide {
  const store = createCallStore(config.store);
  const outbound = createOutbound({ config, store, plivo: plivoApi });
  const operator = createOperator({ config, store });
  const manager = new CallManager({
    config,
    store,
    plivoApi,
    createSession: (geminiConfig, opts) => createLiveSession(geminiConfig, opts),
    onCallbackScheduled: (record, request) => outbound.onCallbackScheduled(record, request),
    onCallEnded: (call) => operator.callEnded(call.recordId, call.ctx.callId, call.moved),
  });
  const playground = config.playground.enabled
    ? new Playground({ config, store, createSession: (geminiConfig, opts) => createLiveSession(geminiConfig, opts) })
    : undefined;
  const router = operator.wrapRouter(outbound.wrapRouter(manager));
  let closing: Promise<void> | undefined;
  return {
    router: playground ? playground.wrapRouter(router) : router,
    routes: playground
      ? [outbound.routes, operator.routes, playgroundRoute(playground)]
      : [outbound.routes, operator.routes],
    manager,
    outbound,
    operator,
    store,
    playground,
    close() {
      closing ??= (async () => {
        await outbound.close();
        await operator.close();
        await store.close();
      })();
      return closing;
    },
  };
}
