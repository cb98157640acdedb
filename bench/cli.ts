// Small pieces the one-off bench scripts share: a numeric `--name value` argument, and waiting for a condition.

/** `--name 12` from the command line, or `def`. */
export function numArg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

/** Polls `cond` every `everyMs` until it holds; throws after `ms` naming `what`. */
export async function until(cond: () => boolean, ms: number, what: string, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
