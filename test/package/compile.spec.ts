import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/**
 * `npm run compile` (scripts/compile.js) on a repository of its own: what `npm start`, the CLI in a
 * checkout, the bench and the tests' child processes run must be the current sources, never a mix.
 */
describe('npm run compile', () => {
  const repo = mkdtempSync(join(tmpdir(), 'crm-interactions-compile-'));
  const compile = () => execFileSync(process.execPath, [join(repo, 'scripts', 'compile.js')], { cwd: repo, encoding: 'utf8' });
  const built = (file: string) => join(repo, '.build', file);
  const write = (file: string, text: string) => {
    mkdirSync(join(repo, file, '..'), { recursive: true });
    writeFileSync(join(repo, file), text);
  };

  beforeAll(() => {
    mkdirSync(join(repo, 'scripts'));
    copyFileSync(join(ROOT, 'scripts', 'compile.js'), join(repo, 'scripts', 'compile.js'));
    copyFileSync(join(ROOT, '.swcrc'), join(repo, '.swcrc'));
    symlinkSync(join(ROOT, 'node_modules'), join(repo, 'node_modules'));
    for (const folder of ['projections', 'bench', 'test']) mkdirSync(join(repo, folder));
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('transpiles with the decorator metadata Nest injects by, copies other files, drops what the sources dropped', () => {
    write('src/service.ts', "import { Injectable } from '@nestjs/common';\nclass Dep {}\n@Injectable()\nexport class Service {\n  constructor(readonly dep: Dep) {}\n}\n");
    write('src/migrations/0001.sql', 'SELECT 1;\n');
    write('src/web/app.js', 'export const page = 1;\n');
    write('src/gone.ts', 'export const gone = true;\n');
    compile();
    const paramTypes = execFileSync(
      process.execPath,
      ['-e', "require('reflect-metadata'); const { Service } = require('./.build/src/service.js'); console.log(Reflect.getMetadata('design:paramtypes', Service).map((type) => type.name).join())"],
      { cwd: repo, encoding: 'utf8' },
    );
    expect(paramTypes.trim()).toBe('Dep');
    expect(readFileSync(built('src/migrations/0001.sql'), 'utf8')).toBe('SELECT 1;\n');
    // A browser module stays an ES module.
    expect(readFileSync(built('src/web/app.js'), 'utf8')).toBe('export const page = 1;\n');
    expect(existsSync(built('src/gone.js'))).toBe(true);

    rmSync(join(repo, 'src/gone.ts'));
    compile();
    expect(existsSync(built('src/gone.js'))).toBe(false);
    expect(existsSync(built('src/service.js'))).toBe(true);
  });

  it('compiles again only when a source changed, and then whatever changed', () => {
    write('src/value.ts', 'export const value: number = 1;\n');
    compile();
    const first = statSync(built('src/value.js')).mtimeMs;

    compile(); // nothing changed: .build/ is left as it is
    expect(statSync(built('src/value.js')).mtimeMs).toBe(first);

    // Same size, a new modification time: compiled again.
    write('src/value.ts', 'export const value: number = 2;\n');
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(repo, 'src/value.ts'), later, later);
    compile();
    expect(readFileSync(built('src/value.js'), 'utf8')).toContain('value = 2');
  });

  it('leaves the last good .build/ in place when a source does not compile', () => {
    write('src/broken.ts', 'export const = ;\n');
    expect(() => execFileSync(process.execPath, [join(repo, 'scripts', 'compile.js')], { cwd: repo, stdio: 'pipe' })).toThrow();
    expect(existsSync(built('src/value.js'))).toBe(true);
    expect(existsSync(built('src/broken.js'))).toBe(false);
    rmSync(join(repo, 'src/broken.ts'));
  });
});
