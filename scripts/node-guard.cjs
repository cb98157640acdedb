// Runs before every npm entry point (see package.json "scripts"): on an older Node the sources fail with cryptic
// errors ("Unknown file extension .ts", "Map.groupBy is not a function"), so say plainly what to do instead.
// CommonJS and old syntax on purpose: it must run on whatever Node the shell has.
'use strict';
var want = [22, 18];
var have = process.versions.node.split('.').map(Number);
if (have[0] < want[0] || (have[0] === want[0] && have[1] < want[1])) {
  process.stderr.write(
    'This project needs Node >= ' +
      want.join('.') +
      ' (this shell has ' +
      process.version +
      ').\n' +
      'Run `. scripts/ensure-node.sh` in this shell (it installs Node 22 from the npm registry once, then reuses it),\n' +
      'and add the line it prints to your shell profile.\n',
  );
  process.exit(1);
}
