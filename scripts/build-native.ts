// Builds the DSP addon (native/) with cmake-js. `--optional` is what `npm install` uses: a machine without a
// compiler or cmake still installs, and the gateway falls back to the pure-TS DSP with one warning at start.
// cmake-js downloads nothing here because package.json declares `binary.napi_versions`, so it builds against
// node-api-headers (offline).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const optional = process.argv.includes('--optional');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.env.GATEWAY_SKIP_NATIVE_BUILD === '1') {
  console.warn('build-native: GATEWAY_SKIP_NATIVE_BUILD=1, skipping the addon; the TS DSP will be used');
  process.exit(0);
}

let cmakeJs: string;
try {
  cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
} catch {
  finish(1, 'cmake-js is not installed');
}

const args = [cmakeJs, 'compile', '--directory', root, '--out', join(root, 'build')];
if (spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0) args.push('--generator', 'Ninja');
const res = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
const built = join(root, 'build', 'Release', 'gateway_dsp.node');
finish(res.status === 0 && existsSync(built) ? 0 : 1, `cmake-js exited with ${res.status ?? res.signal}`);

function finish(code: number, why: string): never {
  if (code === 0) process.exit(0);
  if (optional) {
    console.warn(`build-native: the native DSP addon was not built (${why}); the pure-TS DSP will be used.`);
    console.warn('build-native: install cmake and a C++17 compiler, then run `npm run build:native`.');
    process.exit(0);
  }
  console.error(`build-native: failed (${why})`);
  process.exit(1);
}
