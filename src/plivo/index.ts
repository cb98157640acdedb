// Public surface of the Plivo edge (what src/calls, src/tools and src/outbound import).
export { createPlivoRestClient, type PlivoRestClientOptions, plivoRestClientFromConfig } from './rest-client.ts';
export { signatureBaseString, signV3, verifyV3 } from './signature.ts';
export { mintStreamToken, StreamTokenError, verifyStreamToken } from './stream-token.ts';
export { CLOSE_CODES, PlivoStream } from './stream-session.ts';
export { TRANSFER_PATH, transferXmlUrl } from './transfer.ts';
export { dialXml, escapeXml, rejectXml, streamXml } from './xml.ts';
