// The tests' redis-server launcher lives with the other loopback stacks (benchmarks start one too).
export { freePort } from '../../src/demo/free-port.ts';
export { canConnect, startTestRedis, type TestRedis } from '../../src/demo/redis-server.ts';
