// A free TCP port on loopback, for compositions that must know their public URL before they listen (as production
// knows PUBLIC_URL): the kernel picks one, we release it and the caller binds it. Another process could take it in
// between; on a test machine that is rare, and the bind then fails loudly rather than silently.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}
