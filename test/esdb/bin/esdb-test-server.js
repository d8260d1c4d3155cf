#!/usr/bin/env node
'use strict';
// `npm run esdb:test-server -- --port N`: see test/esdb/test-server/main.ts.
require('../../../scripts/register-ts.js');
require('../test-server/main.ts').main(process.argv.slice(2));
