// The audio contract between the phone edge and the agent: what the phone streams, and what the agent consumes
// and produces. src/audio converts between them without naming either party; src/gemini checks that the model's
// rates are these (Gemini Live: PCM16 16 kHz in, 24 kHz out), src/plivo that the stream's format is one of these.

/** The wire formats a phone stream can carry (Plivo's `<Stream contentType=…>`). */
export type PhoneAudioFormat =
  | { encoding: 'mulaw'; sampleRate: 8000 }
  | { encoding: 'l16'; sampleRate: 8000 }
  | { encoding: 'l16'; sampleRate: 16000 };

/** The agent hears PCM16 mono at this rate (uplink). */
export const AGENT_INPUT_RATE = 16000;
/** The agent speaks PCM16 mono at this rate (downlink). */
export const AGENT_OUTPUT_RATE = 24000;
/** Phone frames are 20 ms. */
export const FRAME_MS = 20;
