// Connects to a stream URL as an attacker holding a captured URL would: sends Plivo's `start` for the call, then
// media every 20 ms, and counts the agent frames that come back.
import { openSocket } from '../plivo/helpers/ws.ts';

export interface Attack {
  /**
   * How the gateway refused: the upgrade's HTTP status (401, 403, 409: decided before the open), or the close code
   * it sent after the open (4409 already served, 4410 call ended: the replay guard's answers). Undefined when the
   * socket stayed open for the whole window.
   */
  refused: number | undefined;
  frames: number;
}

export function attackStream(url: string, callId: string, listenMs = 600): Promise<Attack> {
  return new Promise((resolve) => {
    const ws = openSocket(url);
    let frames = 0;
    let media: NodeJS.Timeout | undefined;
    let window: NodeJS.Timeout | undefined;
    const done = (refused: number | undefined) => {
      clearInterval(media);
      clearTimeout(window);
      resolve({ refused, frames });
    };
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    ws.on('error', () => done(0));
    ws.on('close', (code) => done(code));
    ws.on('open', () => {
      (ws as unknown as { on(e: 'message', l: (d: Buffer) => void): void }).on('message', (d) => {
        if (d.toString().includes('playAudio')) frames++;
      });
      ws.send(
        JSON.stringify({
          event: 'start',
          start: {
            callId,
            streamId: 'attacker-stream',
            accountId: 'MA',
            tracks: ['inbound'],
            mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
          },
        }),
      );
      const payload = Buffer.alloc(160, 0xff).toString('base64');
      media = setInterval(() => ws.send(JSON.stringify({ event: 'media', media: { payload } })), 20);
      window = setTimeout(() => {
        clearInterval(media);
        ws.close();
        resolve({ refused: undefined, frames });
      }, listenMs);
    });
  });
}
