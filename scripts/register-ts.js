// Lets plain `node --require ./scripts/register-ts.js file.ts` run this repository's TypeScript as it is
// (the demo host, the CLI without a build, the benchmark, the EventStoreDB test server), with the
// TypeScript compiler the tests already use: transpile only, like ts-jest; `npm test` type-checks.
// No build step and no extra dependency; SQL migrations are read next to their .ts files as in the tests.
//
// Transpiled files are cached on disk by content hash (under node_modules/.cache), and the compiler is
// loaded only on a cache miss, so a process started from a warm cache never loads TypeScript.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, 'node_modules', '.cache', 'crm-interactions-ts');
let compile = null;

function compiler() {
  if (compile) return compile;
  const ts = require('typescript');
  const { config } = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
  const compilerOptions = {
    ...options,
    module: ts.ModuleKind.CommonJS,
    declaration: false,
    sourceMap: false,
    inlineSourceMap: true,
    noEmit: false,
  };
  compile = (source, fileName) => ts.transpileModule(source, { compilerOptions, fileName }).outputText;
  return compile;
}

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha1').update(filename).update('\0').update(source).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  let output;
  try {
    output = fs.readFileSync(cached, 'utf8');
  } catch {
    output = compiler()(source, filename);
    fs.mkdirSync(cacheDir, { recursive: true });
    const temporary = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, output);
    fs.renameSync(temporary, cached);
  }
  module._compile(output, filename);
};

require('reflect-metadata');
