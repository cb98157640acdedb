// Picks the call store from configuration: memory for one process, Redis when replicas must share state.
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { createMemoryCallStore } from './memory.ts';
import { createRedisCallStore } from './redis.ts';
import type { CallStore } from './types.ts';

export { createMemoryCallStore } from './memory.ts';
export { createRedisCallStore } from './redis.ts';
export type { CallRecord, CallStatus, CallStore } from './types.ts';

export function createCallStore(config: Config['store']): CallStore {
  if (config.kind === 'memory') return createMemoryCallStore({ ttlS: config.recordTtlS });
  if (!config.redisUrl) throw new ConfigError(['REDIS_URL: is required with STATE_STORE=redis (not set)']);
  return createRedisCallStore({ url: config.redisUrl, ttlS: config.recordTtlS });
}
