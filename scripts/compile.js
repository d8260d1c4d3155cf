// `npm run compile`: SWC (the compiler NestJS's own CLI uses for `nest build -b swc`; settings in .swcrc)
// transpiles src/, projections/, bench/ and test/ into .build/, which `npm start`, the CLI in a checkout,
// the benchmark and the tests' child processes run. Type checking is `npm run typecheck`'s.
//
// Compiled into a folder of its own and swapped in by rename: a process running from .build/ (a test
// run, a demo host) never finds it half-written, and nothing deleted from the sources lingers there.
'use strict';
const { execFileSync } = require('node:child_process');
const { renameSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const build = join(root, '.build');
const next = `${build}.next-${process.pid}`;
const previous = `${build}.previous-${process.pid}`;

const swc = require.resolve('@swc/cli/bin/swc.js');
const sources = ['src', 'projections', 'bench', 'test'];
execFileSync(process.execPath, [swc, ...sources, '--out-dir', next, '--copy-files', '--extensions', '.ts', '--quiet'], {
  cwd: root,
  stdio: 'inherit',
});

// Another compilation may swap its own in between these renames: then move that one aside too.
for (let attempt = 1; ; attempt++) {
  try {
    renameSync(build, previous);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  try {
    renameSync(next, build);
    break;
  } catch (error) {
    if (!['ENOTEMPTY', 'EEXIST'].includes(error.code) || attempt === 5) throw error;
    rmSync(previous, { recursive: true, force: true });
  }
}
rmSync(previous, { recursive: true, force: true });
