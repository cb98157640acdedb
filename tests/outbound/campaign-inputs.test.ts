// Campaign inputs (issue 15 item 8): numbers are compared after E.164 normalisation, so one person written three
// ways is dialled once and the duplicates are counted in the response; premium-rate and other blocked prefixes
// (OUTBOUND_BLOCKED_PREFIXES) are refused with a reason per contact, in campaigns and in single calls alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BLOCKED_PREFIXES, loadConfig } from '../../src/config.ts';
import { emulatorEnv } from '../../src/demo/emulator-env.ts';
import { ConfigError } from '../../src/errors.ts';
import { callRequests } from './campaign-checks.ts';
import { type Emulator, type Node, startEmulator, startNode, until } from './helpers.ts';

let emulator: Emulator;
let node: Node;

beforeAll(async () => {
  emulator = await startEmulator();
  node = await startNode({ emulator, env: { PLIVO_CPS: '20' } });
});
afterAll(async () => {
  await node?.close();
  await emulator?.close();
});

const dialsTo = (digits: string) => callRequests(emulator).filter((r) => r.params.to === digits).length;

describe('campaign contacts', () => {
  it('collapses duplicate numbers after normalisation and reports how many', async () => {
    const res = await node.api('POST', '/outbound/campaign', {
      campaign_id: 'dups',
      contacts: [
        { phone_number: '+14155558801' },
        { phone_number: '14155558801' },
        { phone_number: '+1 (415) 555-8801' },
        { phone_number: '+14155558802' },
        { phone_number: '+1-415-555-8802' },
        { phone_number: '+14155558803' },
      ],
      opening_reason: 'x',
      max_concurrent: 3,
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ contacts: 3, duplicates: 3, refused: [] });
    await until(
      async () => (await node.api('GET', '/outbound/campaign/dups')).json?.dialer?.state === 'completed',
      10_000,
      'campaign completed',
    );
    expect([dialsTo('14155558801'), dialsTo('14155558802'), dialsTo('14155558803')]).toEqual([1, 1, 1]);
  });

  it('refuses premium-rate and satellite numbers with a reason per contact, and dials the rest', async () => {
    const res = await node.api('POST', '/outbound/campaign', {
      campaign_id: 'blocked',
      contacts: [
        { phone_number: '+19002345678' }, // NANP 900 pay-per-call
        { phone_number: '+14155558811' },
        { phone_number: '+449098790000' }, // UK 090 premium rate
        { phone_number: '+881631234567' }, // Iridium satellite
        { phone_number: '+448712345678' }, // UK 087 service charge
        { phone_number: '+14155558811' },
      ],
      opening_reason: 'x',
    });
    expect(res.status).toBe(201);
    expect(res.json.contacts).toBe(1);
    expect(res.json.duplicates).toBe(1);
    expect(res.json.refused.map((r: { index: number; reason: string }) => [r.index, r.reason])).toEqual([
      [0, 'blocked_prefix'],
      [2, 'blocked_prefix'],
      [3, 'blocked_prefix'],
      [4, 'blocked_prefix'],
    ]);
    expect(res.json.refused[0].message).toMatch(/\+1900/);
    expect(res.json.refused[2].message).toMatch(/\+881/);
    await until(
      async () => (await node.api('GET', '/outbound/campaign/blocked')).json?.dialer?.state === 'completed',
      10_000,
      'campaign completed',
    );
    for (const d of ['19002345678', '449098790000', '881631234567', '448712345678']) expect(dialsTo(d)).toBe(0);
    expect(dialsTo('14155558811')).toBe(1);
  });

  it('answers 400 naming each contact when every contact is refused', async () => {
    const res = await node.api('POST', '/outbound/campaign', {
      campaign_id: 'all-blocked',
      contacts: [{ phone_number: '+19002345678' }, { phone_number: '+883510012345' }],
      opening_reason: 'x',
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('no_dialable_contacts');
    expect(res.json.fields.map((f: { field: string }) => f.field)).toEqual([
      'contacts.0.phone_number',
      'contacts.1.phone_number',
    ]);
    expect((await node.api('GET', '/outbound/campaign/all-blocked')).status).toBe(404);
  });
});

describe('POST /outbound/call', () => {
  it('refuses a blocked destination before asking Plivo', async () => {
    const before = callRequests(emulator, false).length;
    const res = await node.api('POST', '/outbound/call', { phone_number: '+1 900 234 5678' });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('blocked_destination');
    expect(res.json.fields[0].field).toBe('phone_number');
    expect(callRequests(emulator, false).length).toBe(before);
  });
});

describe('OUTBOUND_BLOCKED_PREFIXES', () => {
  it('defaults to the premium-rate list, can be replaced or emptied, and rejects malformed prefixes', () => {
    expect(loadConfig(emulatorEnv()).outbound.blockedPrefixes).toEqual(DEFAULT_BLOCKED_PREFIXES);
    expect(DEFAULT_BLOCKED_PREFIXES).toEqual(expect.arrayContaining(['+1900', '+1976', '+4490', '+881', '+882']));
    expect(loadConfig(emulatorEnv({ OUTBOUND_BLOCKED_PREFIXES: ' +1900 , +44 ' })).outbound.blockedPrefixes).toEqual([
      '+1900',
      '+44',
    ]);
    expect(loadConfig(emulatorEnv({ OUTBOUND_BLOCKED_PREFIXES: '' })).outbound.blockedPrefixes).toEqual([]);
    expect(() => loadConfig(emulatorEnv({ OUTBOUND_BLOCKED_PREFIXES: '+1900,1976,+4x' }))).toThrow(ConfigError);
  });
});
