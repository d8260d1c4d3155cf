// `npm run compile`: SWC (the compiler NestJS's own CLI uses for `nest build -b swc`; settings in .swcrc)
// transpiles src/, projections/, bench/ and test/ into .build/, which `npm start`, the CLI in a checkout,
// the benchmark and the tests' child processes run; other files (SQL, the browser page, the PGlite
// template) are copied as they are. No type checking: that is `npm run typecheck`'s. Through @swc/core's
// API in this process: ~0.3 s for the repository, where @swc/cli's start-up alone took longer.
//
// Compiled into a folder of its own and swapped in by rename: a process running from .build/ (a test
// run, a demo host) never finds it half-written, and nothing deleted from the sources lingers there.
'use strict';
const { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { basename, dirname, join, relative } = require('node:path');
const { transformFileSync } = require('@swc/core');

const root = join(__dirname, '..');
const build = join(root, '.build');
const next = `${build}.next-${process.pid}`;
const previous = `${build}.previous-${process.pid}`;

function compile(source, target) {
  mkdirSync(dirname(target), { recursive: true });
  if (!source.endsWith('.ts')) return copyFileSync(source, target);
  const js = target.replace(/\.ts$/, '.js');
  const { code, map } = transformFileSync(source, { cwd: root, sourceMaps: true, sourceFileName: relative(dirname(js), source) });
  writeFileSync(js, `${code}\n//# sourceMappingURL=${basename(js)}.map\n`);
  writeFileSync(`${js}.map`, map);
}

function walk(folder) {
  for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) walk(path);
    else compile(join(root, path), join(next, path));
  }
}

try {
  for (const folder of ['src', 'projections', 'bench', 'test']) walk(folder);
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
