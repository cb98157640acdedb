// Recordings in S3-compatible storage: a real S3 server (s3rver, in process, on 127.0.0.1) receives the call's
// two-channel WAV through aws4fetch's SigV4 requests; the record links the gateway's authenticated URL, which
// fetches it back. A failed upload loses the recording (logged) but never the call record. (s3rver does not check
// signatures, so the failure is a missing bucket.)
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWav } from '../../src/audio/wav.ts';
import { type LocalStack, startLocalStack } from '../../src/demo/stack.ts';
import type { OperatorRecord } from '../../src/records/view.ts';
import { SCENARIOS } from '../e2e/helpers.ts';
import { until } from './helpers.ts';

const KEY = 's3-test-key';
let s3: S3rver;
let s3Dir: string;
let endpoint: string;
let tmp: string;

beforeAll(async () => {
  s3Dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  tmp = await mkdtemp(join(tmpdir(), 'rec-tmp-'));
  s3 = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: s3Dir,
    configureBuckets: [{ name: 'calls' }],
  });
  const addr = await s3.run();
  endpoint = `http://127.0.0.1:${addr.port}`;
});
afterAll(async () => {
  await s3?.close();
  await rm(s3Dir, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

async function oneCall(bucket: string): Promise<{ stack: LocalStack; record: OperatorRecord; callId: string }> {
  let finalized: OperatorRecord | undefined;
  const stack = await startLocalStack({
    scenario: join(SCENARIOS, 'test-barge-in.json'),
    gemini: { speech: 'synthetic' },
    env: {
      OUTBOUND_API_KEY: KEY,
      RECORDING: 'on',
      RECORDING_DIR: tmp,
      RECORDING_S3_BUCKET: bucket,
      RECORDING_S3_ENDPOINT: endpoint,
      RECORDING_S3_ACCESS_KEY_ID: 'S3RVER',
      RECORDING_S3_SECRET_ACCESS_KEY: 'S3RVER',
      RECORDING_S3_PREFIX: 'rec/',
    },
    operator: {
      settleMs: 50,
      onFinalized: (r) => {
        finalized = r;
      },
    },
  });
  const call = await stack.placeCall({ idleMedia: 'silence' });
  await until(() => call.played.length > 25, 10_000, 'greeting');
  await call.hangup();
  await until(() => finalized !== undefined, 10_000, 'finalized');
  return { stack, record: finalized!, callId: call.callUuid };
}

describe('recording to S3-compatible storage', () => {
  it('uploads the two-channel WAV and serves it back through GET /calls/{id}/recording', async () => {
    const { stack, record, callId } = await oneCall('calls');
    try {
      expect(record.recording).toMatchObject({
        storage: 's3',
        location: `${endpoint}/calls/rec/${callId}.wav`,
        url: `${stack.base}/calls/${callId}/recording`,
        channels: 2,
        sampleRate: 8000,
      });
      const direct = await new AwsClient({
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
        service: 's3',
        region: 'us-east-1',
      }).fetch(record.recording!.location);
      expect(direct.status).toBe(200);
      const viaGateway = await fetch(record.recording!.url, { headers: { authorization: `Bearer ${KEY}` } });
      expect(viaGateway.status).toBe(200);
      const wav = parseWav(Buffer.from(await viaGateway.arrayBuffer()));
      expect(wav.channels).toBe(2);
      expect(wav.samples.length / 2 / wav.sampleRate).toBeGreaterThan(0.4);
      // Uploaded files do not pile up locally.
      expect((await readdir(tmp)).filter((f) => f.endsWith('.wav'))).toEqual([]);
    } finally {
      await stack.close();
    }
  }, 30_000);

  it('keeps the call record when the upload fails', async () => {
    const { stack, record, callId } = await oneCall('no-such-bucket');
    try {
      expect(record.recording).toBeUndefined();
      expect(record.latency?.greeting_sent_ms).toBeGreaterThan(0);
      const res = await fetch(`${stack.base}/calls/${callId}`, { headers: { authorization: `Bearer ${KEY}` } });
      expect(res.status).toBe(200);
    } finally {
      await stack.close();
    }
  }, 30_000);
});
