// Argument checks for the kernel boundary, shared by both backends so that bad input fails the same way (and before
// it can reach C++, which trusts lengths it is given only after re-checking them itself).
import { GatewayError } from '../errors.ts';

function invalid(message: string): GatewayError {
  return new GatewayError('GW_ERR_INVALID_ARGUMENT', message);
}

export function assertInt16(name: string, v: unknown): asserts v is Int16Array {
  if (!(v instanceof Int16Array)) throw invalid(`${name} must be an Int16Array (got ${describe(v)})`);
}

export function assertUint8(name: string, v: unknown): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) throw invalid(`${name} must be a Uint8Array or Buffer (got ${describe(v)})`);
}

export function assertCapacity(name: string, have: number, need: number): void {
  if (have < need) throw invalid(`${name} is too small: holds ${have} samples, needs at least ${need}`);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'object';
}
