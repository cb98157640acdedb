// One emulator, two agents: `scenarioRoutes` picks a conversation's scenario from the client's systemInstruction
// (`npm run dev` serves the inbound and the outbound prompt this way), and a resumed conversation keeps its own.
import { afterEach, describe, expect, it } from 'vitest';
import { type GeminiLiveEmulator, startGeminiLiveEmulator } from '../../../src/emulators/gemini-live/index.ts';
import { phoneConfig, SdkClient } from './helpers.ts';

let emu: GeminiLiveEmulator | undefined;
const clients: SdkClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.session.close();
  await emu?.close();
  emu = undefined;
});

async function opened(systemInstruction: string): Promise<string> {
  const c = await SdkClient.connect(emu!.baseUrl, phoneConfig({ systemInstruction }));
  clients.push(c);
  c.opening();
  const end = await c.waitTurnComplete();
  return c.outputText(0, end);
}

describe('scenarioRoutes', () => {
  it('plays the scenario whose marker the systemInstruction contains, else the default', async () => {
    emu = await startGeminiLiveEmulator({
      scenario: 'scenarios/test-tools.json',
      scenarioRoutes: [
        { systemInstructionIncludes: 'You placed this call', scenario: 'scenarios/outbound-reminder.json' },
      ],
      timing: { realtime: false },
      speech: 'synthetic',
    });
    expect(await opened('You are Ava. You placed this call to a customer.')).toMatch(/calling about your order/);
    expect(await opened('You answer the customer service line.')).toBe('Hi there.');
  });

  it('refuses an empty marker at start', async () => {
    await expect(
      startGeminiLiveEmulator({
        scenario: 'scenarios/test-tools.json',
        scenarioRoutes: [{ systemInstructionIncludes: '', scenario: 'scenarios/outbound-reminder.json' }],
      }),
    ).rejects.toThrow(/systemInstructionIncludes is empty/);
  });
});
