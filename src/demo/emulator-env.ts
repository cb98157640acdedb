// The environment that points the gateway at the emulators: a complete, valid configuration with emulator
// credentials only, never real ones. Used by the demo stack, the load benches and the tests (it is not part of
// src/config.ts, which reads only the real environment). Callers override what they need (ports, URLs).

export function emulatorEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PUBLIC_URL: 'http://127.0.0.1:8000',
    PLIVO_AUTH_ID: 'MAEMULATOR0000000000',
    PLIVO_AUTH_TOKEN: 'emulator-auth-token',
    PLIVO_PHONE_NUMBER: '+14155550100',
    GEMINI_API_KEY: 'emulator-api-key',
    LOG_LEVEL: 'silent',
    // Load shedding off: here the gateway shares its event loop with the emulators and the test or demo driving
    // them, whose synchronous work (audio synthesis, fixtures) is not the gateway's overload. A test that wants it
    // sets it (tests/server/overload.test.ts).
    OVERLOAD_LOOP_DELAY_MS: '0',
    ...overrides,
  };
}
