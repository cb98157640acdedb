// Plivo XML, written by hand: the plivo SDK is not a dependency (see rest-client.ts) and its builder rejects
// newer <Stream> attributes anyway. Every attribute value and text node goes through escapeXml.
import type { PhoneAudioFormat } from '../contract/media.ts';

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

/** `<Stream contentType>` value for a phone format. */
export function streamContentType(format: PhoneAudioFormat): string {
  return format.encoding === 'mulaw' ? 'audio/x-mulaw;rate=8000' : `audio/x-l16;rate=${format.sampleRate}`;
}

export interface StreamXmlOptions {
  /** ws:// or wss:// URL Plivo connects to (the token is in its path). */
  url: string;
  format: PhoneAudioFormat;
  statusCallbackUrl?: string | undefined;
  /** Plivo's default is 86400 s; calls never last that long, so a bound here only catches leaks. */
  streamTimeoutS?: number | undefined;
}

export function streamXml(o: StreamXmlOptions): string {
  let attrs = `bidirectional="true" keepCallAlive="true" contentType="${escapeXml(streamContentType(o.format))}"`;
  if (o.streamTimeoutS !== undefined) attrs += ` streamTimeout="${Math.floor(o.streamTimeoutS)}"`;
  if (o.statusCallbackUrl !== undefined) {
    attrs += ` statusCallbackUrl="${escapeXml(o.statusCallbackUrl)}" statusCallbackMethod="POST"`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Stream ${attrs}>${escapeXml(o.url)}</Stream></Response>`;
}

/** Politely refuses a call (draining or full): Plivo plays a busy signal instead of connecting a dead stream. */
export function rejectXml(reason: 'busy' | 'rejected' = 'busy'): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Hangup reason="${reason}"/></Response>`;
}

/** The A leg of a live call is sent here on transfer: dial the target number. */
export function dialXml(number: string, callerId?: string): string {
  const attr = callerId === undefined ? '' : ` callerId="${escapeXml(callerId)}"`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Dial${attr}><Number>${escapeXml(number)}</Number></Dial></Response>`;
}
