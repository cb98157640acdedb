// What each pool worker runs per stream: the very same inline engine the main thread would run, built on the
// backend the worker loads itself (the native addon is context-aware, so every worker gets its own instance).
// Reusing the inline engine is what makes pool output bit-identical to inline output.
import type { AudioEngine } from '../types.ts';

export interface WorkerEngine {
  engine: AudioEngine;
  warning?: string | undefined;
}

export async function createWorkerEngine(backendPreference: 'auto' | 'native' | 'ts'): Promise<WorkerEngine> {
  const { loadAudioBackend } = await import('../backend.ts');
  const { createInlineEngine } = await import('../engine.ts');
  const { backend, warning } = await loadAudioBackend(backendPreference);
  return { engine: createInlineEngine(backend), warning };
}
