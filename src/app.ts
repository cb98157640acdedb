// The one way to compose a gateway: the call-handling side from configuration (call store, memory or Redis;
// outbound API and dialer; the operator; the playground; the CallManager that runs one Gemini Live session per
// call) behind the uWS server. `src/main.ts` runs it as is; the demo stack (src/demo/stack.ts, which the end-to-end
// tests use) and the Gemini load bench compose it around the emulators through the same function, changing only
// what they must (the Gemini base URL, a store, observers).
import type { AudioEngine } from './audio/types.ts';
import type { Call, SessionFactory } from './calls/call.ts';
import { CallManager, type CallManagerOptions } from './calls/call-manager.ts';
import type { Config } from './config.ts';
import type { CallRouter } from './contract/call.ts';
import { createLiveSession } from './gemini/live-session.ts';
import { createOperator, type Operator, type OperatorOptions } from './operator/index.ts';
import { createOutbound, type Outbound } from './outbound/index.ts';
import { Playground, type PlaygroundOptions } from './playground/index.ts';
import { playgroundRoute } from './playground/route.ts';
import type { PlivoApi } from './plivo/api-types.ts';
import type { RouteModule } from './server/deps.ts';
import { type Gateway, type GatewayOptions, startGateway } from './server/gateway.ts';
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

/** What a composition may change; production passes nothing. */
export interface CallSideOptions {
  /** Default: from config.store (memory, or Redis with STATE_STORE=redis). */
  store?: CallStore;
  /** Default: createLiveSession against the configured (or SDK-default) Gemini endpoint. */
  createSession?: SessionFactory;
  /**
   * Extra CallManager options (timing, observers). `onCallEnded` runs after the operator has the call,
   * `onCallbackScheduled` after the dialer has the callback.
   */
  manager?: Partial<Omit<CallManagerOptions, 'config' | 'store' | 'plivoApi' | 'createSession'>>;
  operator?: Partial<Omit<OperatorOptions, 'config' | 'store'>>;
  /** Observers of playground calls; `onCallEnded` runs after the operator has the call. */
  playground?: Pick<PlaygroundOptions, 'timing' | 'onEvent' | 'onCallEnded'>;
}

export function createCallSide(config: Config, plivoApi: PlivoApi, o: CallSideOptions = {}): CallSide {
  const store = o.store ?? createCallStore(config.store);
  const outbound = createOutbound({ config, store, plivo: plivoApi });
  const operator = createOperator({ config, store, ...o.operator });
  const createSession: SessionFactory =
    o.createSession ?? ((geminiConfig, opts) => createLiveSession(geminiConfig, opts));
  const callEnded = (call: Call, then: ((call: Call) => void) | undefined) => {
    operator.callEnded(call.recordId, call.ctx.callId, call.moved);
    then?.(call);
  };
  const managerEnded = o.manager?.onCallEnded;
  const manager = new CallManager({
    ...o.manager,
    config,
    store,
    plivoApi,
    createSession,
    onCallbackScheduled: async (record, request) => {
      await outbound.onCallbackScheduled(record, request);
      await o.manager?.onCallbackScheduled?.(record, request);
    },
    onCallEnded: (call) => callEnded(call, managerEnded),
  });
  const playgroundEnded = o.playground?.onCallEnded;
  const playground = config.playground.enabled
    ? new Playground({
        config,
        store,
        createSession,
        timing: o.playground?.timing,
        onEvent: o.playground?.onEvent,
        onCallEnded: (call) => callEnded(call, playgroundEnded),
      })
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

export interface ComposeOptions extends CallSideOptions {
  config: Config;
  audio: AudioEngine;
  plivoApi: PlivoApi;
  /** Server options beyond the configuration (tests: metrics, pacing); `routes` are mounted before the call side's. */
  gateway?: Partial<Omit<GatewayOptions, 'config' | 'router' | 'audio' | 'plivoApi'>>;
}

/** The call side behind a listening gateway. Close in this order: gateway.drain(), gateway.close(), calls.close(). */
export async function composeGateway(o: ComposeOptions): Promise<{ gateway: Gateway; calls: CallSide }> {
  const calls = createCallSide(o.config, o.plivoApi, o);
  const gateway = await startGateway({
    ...o.gateway,
    config: o.config,
    router: calls.router,
    audio: o.audio,
    plivoApi: o.plivoApi,
    routes: [...(o.gateway?.routes ?? []), ...calls.routes],
  });
  return { gateway, calls };
}
