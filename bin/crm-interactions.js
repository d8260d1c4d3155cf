#!/usr/bin/env node
'use strict';
// The CLI. In a checkout, what `npm run compile` made (`npm run cli` compiles first); in the published
// package, which has no .build/, the package build.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const main = [join(root, '.build', 'src', 'cli', 'main.js'), join(root, 'dist', 'src', 'cli', 'main.js')].find((file) => existsSync(file));
if (!main) {
  console.error('crm-interactions: not compiled; run `npm run compile` (or `npm run build`) first');
  process.exit(1);
}
require(main).run(process.argv.slice(2));
