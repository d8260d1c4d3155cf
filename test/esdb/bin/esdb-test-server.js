#!/usr/bin/env node
'use strict';
// `npm run esdb:test-server -- --port N`: see test/esdb/test-server/main.ts.
// Runs compiled (`npm run compile` puts it under .build/), as the npm script does.
require('../test-server/main').main(process.argv.slice(2));
