// One GoogleGenAI client per process (per distinct credentials/base URL): it holds the auth state (Vertex tokens)
// that every call's Live connections share. Each client gets our guarded WebSocket transport (./transport.ts).
//
// Base URL: we never set GOOGLE_GEMINI_BASE_URL; the SDK reads it (and GOOGLE_VERTEX_BASE_URL) itself when the
// client is built. Tests and the demo that run several emulators in one process pass `baseUrl` explicitly instead
// (`httpOptions.baseUrl`, which takes precedence over the variable), so each emulator gets its own client.
import { GoogleGenAI, type GoogleGenAIOptions } from '@google/genai';
import type { Config } from '../config.ts';
import { GatewayError } from '../errors.ts';
import type { GeminiCredential } from './credentials.ts';
import { GuardedSocketFactory } from './transport.ts';

const clients = new Map<string, GoogleGenAI>();

export interface ClientOverrides {
  /** Point the SDK at another server (an emulator). Defaults to the SDK's own resolution. */
  baseUrl?: string | undefined;
}

export function getGenAIClient(config: Config['gemini'], overrides: ClientOverrides = {}): GoogleGenAI {
  const key = JSON.stringify([config.vertexai, config.apiKey, config.project, config.location, overrides.baseUrl]);
  let client = clients.get(key);
  if (client === undefined) {
    client = createGenAIClient(config, overrides);
    clients.set(key, client);
  }
  return client;
}

/**
 * The client for one credential of the pool (src/gemini/credentials.ts): the same settings with that credential's
 * key, or Vertex project and location. Cached like getGenAIClient, so each credential keeps its own auth state.
 */
export function clientForCredential(
  config: Config['gemini'],
  credential: GeminiCredential,
  overrides: ClientOverrides = {},
): GoogleGenAI {
  return getGenAIClient(
    {
      ...config,
      vertexai: credential.vertexai,
      apiKey: credential.apiKey,
      project: credential.project ?? config.project,
      location: credential.location ?? config.location,
    },
    overrides,
  );
}

/** Drop cached clients (tests). Open sessions keep working: they hold their own connections. */
export function resetGenAIClients(): void {
  clients.clear();
}

export function createGenAIClient(config: Config['gemini'], overrides: ClientOverrides = {}): GoogleGenAI {
  const options: GoogleGenAIOptions = config.vertexai
    ? { vertexai: true, project: config.project, location: config.location }
    : { apiKey: config.apiKey };
  // The Live API is documented on v1beta; SDK 3.x defaults to v1 (upstream quirk: v1beta up to 2.32, v1 by 3.1.0,
  // read in the SDK dist; no upstream issue filed). Pin v1beta for the Developer API unless the operator chose a
  // version through the SDK's own GOOGLE_GENAI_API_VERSION (read only to not override it). Remove the pin when
  // Google documents the Live API on v1.
  if (!config.vertexai && (process.env.GOOGLE_GENAI_API_VERSION ?? '').trim() === '') options.apiVersion = 'v1beta';
  if (overrides.baseUrl !== undefined) options.httpOptions = { baseUrl: overrides.baseUrl };
  const client = new GoogleGenAI(options);
  installTransport(client);
  return client;
}

function installTransport(client: GoogleGenAI): void {
  // `webSocketFactory` is private in the SDK's typings (but part of its design: each build passes its own).
  // The SDK is pinned; if a new version renames the field, fail loudly rather than run without the crash guard.
  // Part of the transport workaround (see the top of transport.ts: no upstream issue filed); goes with it.
  const live = client.live as unknown as Record<string, unknown>;
  const current = live.webSocketFactory as { create?: unknown } | undefined;
  if (current === undefined || typeof current.create !== 'function') {
    throw new GatewayError('GW_ERR_GEMINI', '@google/genai changed: Live has no webSocketFactory to replace', {
      retryable: false,
    });
  }
  live.webSocketFactory = new GuardedSocketFactory();
}
