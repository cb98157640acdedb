// Where finished recordings go: a local directory (default), or S3-compatible object storage (AWS S3, MinIO, R2,
// GCS interoperability…) through aws4fetch, a dependency-free SigV4 signer over fetch. Either way the record links
// the gateway's own GET /calls/{id}/recording (bearer-authenticated), which serves the file or fetches the object.
import { readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';

export interface StoredRecording {
  /** Where the object lives (file path or object URL), for operators; callers use the gateway URL. */
  location: string;
}

export interface RecordingStorage {
  readonly kind: 'local' | 's3';
  /** Takes ownership of the finished file at `path`. */
  put(path: string, name: string): Promise<StoredRecording>;
  get(name: string): Promise<Buffer | undefined>;
}

export function localStorage(dir: string): RecordingStorage {
  return {
    kind: 'local',
    async put(path, name) {
      const to = join(dir, name);
      await rename(path, to);
      return { location: to };
    },
    async get(name) {
      const path = join(dir, name);
      if (!(await stat(path).catch(() => undefined))) return undefined;
      return readFile(path);
    },
  };
}

export interface S3Options {
  bucket: string;
  /** e.g. http://127.0.0.1:9000 for MinIO (path-style); unset for AWS (virtual-hosted style). */
  endpoint?: string | undefined;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  prefix: string;
}

export function s3Storage(o: S3Options): RecordingStorage {
  const client = new AwsClient({
    accessKeyId: o.accessKeyId,
    secretAccessKey: o.secretAccessKey,
    service: 's3',
    region: o.region,
  });
  const url = (name: string) => {
    const key = `${o.prefix}${name}`.split('/').map(encodeURIComponent).join('/');
    return o.endpoint
      ? `${o.endpoint.replace(/\/+$/, '')}/${o.bucket}/${key}`
      : `https://${o.bucket}.s3.${o.region}.amazonaws.com/${key}`;
  };
  return {
    kind: 's3',
    async put(path, name) {
      // Whole-file body: SigV4 signs the payload hash; a call's recording is ~1 MB per minute at 8 kHz stereo.
      const body = await readFile(path);
      const target = url(name);
      const res = await client.fetch(target, { method: 'PUT', body, headers: { 'content-type': 'audio/wav' } });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`S3 PUT ${name} failed: HTTP ${res.status}`);
      await unlink(path).catch(() => {});
      return { location: target };
    },
    async get(name) {
      const res = await client.fetch(url(name));
      if (res.status === 404) {
        await res.arrayBuffer().catch(() => undefined);
        return undefined;
      }
      if (!res.ok) throw new Error(`S3 GET ${name} failed: HTTP ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}
