// `tsc` compiles only TypeScript: the SQL migrations travel next to the compiled runner.
const { cpSync } = require('node:fs');
for (const dir of ['projections/migrations', 'src/adapters/postgres/migrations']) {
  cpSync(dir, `dist/${dir}`, { recursive: true });
}
