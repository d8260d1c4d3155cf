// `npm run compile`: SWC (the compiler NestJS's own CLI uses for `nest build -b swc`; settings in .swcrc)
// transpiles src/, projections/, bench/ and test/ into .build/, which `npm start`, the CLI in a checkout,
// the benchmark and the tests' child processes run; other files (SQL, the browser page, the PGlite
// template) are copied as they are. No type checking: that is `npm run typecheck`'s. Through @swc/core's
// API in this process: ~0.45 s for the repository, where @swc/cli's start-up alone took 0.4 s.
//
// Compiled into a folder of its own and swapped in by rename: a process running from .build/ (a test
// run, a demo host) never finds it half-written, and nothing deleted from the sources lingers there.
// Skipped while the sources are as they were (names, sizes and modification times, like make), so a
// start costs no compilation when nothing changed.
'use strict';
const { createHash } = require('node:crypto');
const { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { basename, dirname, join, relative } = require('node:path');

const root = join(__dirname, '..');
const build = join(root, '.build');
const next = `${build}.next-${process.pid}`;
const previous = `${build}.previous-${process.pid}`;
const STAMP = '.sources';

/** The repository's files under `folder`, relative to the root. */
function filesUnder(folder) {
  return readdirSync(join(root, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

const sources = ['src', 'projections', 'bench', 'test'].flatMap(filesUnder);
const swcPackage = join(dirname(require.resolve('@swc/core')), 'package.json');
const stamp = createHash('sha256')
  .update(JSON.stringify([...sources, '.swcrc', 'scripts/compile.js', relative(root, swcPackage)].map((file) => {
    const { size, mtimeMs } = statSync(join(root, file));
    return [file, size, mtimeMs];
  })))
  .digest('hex');
try {
  if (readFileSync(join(build, STAMP), 'utf8') === stamp) process.exit(0);
} catch {
  // never compiled, or a compilation that did not finish: compile
}

const { transformFileSync } = require('@swc/core');

function compile(source, target) {
  mkdirSync(dirname(target), { recursive: true });
  if (!source.endsWith('.ts')) return copyFileSync(source, target);
  const js = target.replace(/\.ts$/, '.js');
  const { code, map } = transformFileSync(source, { cwd: root, sourceMaps: true, sourceFileName: relative(dirname(js), source) });
  writeFileSync(js, `${code}\n//# sourceMappingURL=${basename(js)}.map\n`);
  writeFileSync(`${js}.map`, map);
}

try {
  for (const file of sources) compile(join(root, file), join(next, file));
  writeFileSync(join(next, STAMP), stamp);
} catch (error) {
  rmSync(next, { recursive: true, force: true });
  throw error;
}

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
