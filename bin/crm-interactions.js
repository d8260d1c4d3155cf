#!/usr/bin/env node
'use strict';
// The CLI: the compiled package when built (`npm run build`), else the sources through the TS hook.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const compiled = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (existsSync(compiled)) {
  require(compiled).run(process.argv.slice(2));
} else {
  require('../scripts/register-ts');
  require('../src/cli/main.ts').run(process.argv.slice(2));
}
