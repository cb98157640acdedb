// A PlivoApi that records what it was asked (unit tests only; tool/e2e tests use the Plivo emulator's REST API).
import type { PlivoApi } from '../../../src/plivo/api-types.ts';

export function recordingPlivoApi() {
  const log: Array<{ op: string; args: unknown[] }> = [];
  const api: PlivoApi = {
    async makeCall(p) {
      log.push({ op: 'makeCall', args: [p] });
      return { apiId: 'api', requestUuid: 'req' };
    },
    async hangupCall(uuid) {
      log.push({ op: 'hangupCall', args: [uuid] });
    },
    async transferCall(uuid, url) {
      log.push({ op: 'transferCall', args: [uuid, url] });
    },
    async sendSms(p) {
      log.push({ op: 'sendSms', args: [p] });
      return { messageUuids: ['m1'] };
    },
    async configureNumber() {
      return { appId: 'app' };
    },
  };
  return { api, log };
}
