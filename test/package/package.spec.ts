import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The package as a host installs it (issue 12): packed from a copy of the sources (the build must not
 * touch this checkout's dist/, which the CLI would pick up), installed into a fresh project with only
 * Nest's peers (no PGlite, no EventStoreDB client), type-checked there strictly without skipLibCheck,
 * and loaded.
 */
const ROOT = join(__dirname, '..', '..');
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });

describe('the published package', () => {
  let work: string;
  let consumer: string;
  let files: string[];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'crm-pack-'));
    const source = join(work, 'source');
    for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'projections', 'bin', 'scripts', 'README.md', 'CHANGELOG.md', 'docs']) {
      cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
    const tarball = join(work, run('npm', ['pack', '--silent', '--pack-destination', work], source).trim().split('\n').pop()!);
    files = run('tar', ['tzf', tarball], work).split('\n').filter(Boolean);
    consumer = join(work, 'consumer');
    cpSync(join(__dirname, 'consumer'), consumer, { recursive: true });
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    const version = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
    // From npm's cache where it can (CI has just filled it): the versions of this checkout, and what every
    // Nest host has (Nest's own declarations need Node's).
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `typescript@${version('typescript')}`,
      `@types/node@${version('@types/node')}`, '@nestjs/common@11', '@nestjs/core@11', '@nestjs/cqrs@11', 'reflect-metadata', 'rxjs'], consumer);
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('ships the module and its CLI: no demo host, no benchmark, no source maps', () => {
    expect(files).toContain('package/dist/src/index.d.ts');
    expect(files.some((f) => f.startsWith('package/dist/src/cli/'))).toBe(true);
    expect(files.filter((f) => f.includes('/demo/') || f.includes('/bench/') || f.endsWith('.map'))).toEqual([]);
  });

  it('ships the documents its README links to', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\(((?:docs\/)?[\w.-]+\.md)\)/g)].map((match) => `package/${match[1]}`);
    expect(linked.length).toBeGreaterThan(0);
    expect(linked.filter((file) => !files.includes(file))).toEqual([]);
    expect(files).toContain('package/README.md');
  });

  it('installs neither PGlite nor the EventStoreDB client (optional peers), and type-checks strictly without skipLibCheck (with esModuleInterop, which zod\'s declarations need)', () => {
    expect(existsSync(join(consumer, 'node_modules', '@electric-sql', 'pglite'))).toBe(false);
    expect(existsSync(join(consumer, 'node_modules', '@eventstore', 'db-client'))).toBe(false);
    let output = '';
    try {
      run(join(consumer, 'node_modules', '.bin', 'tsc'), ['-p', '.'], consumer);
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output).toBe('');
  });

  it('loads without them, and names the package to install when the options ask for one', async () => {
    const script = `
      require('reflect-metadata');
      const { NestFactory } = require('@nestjs/core');
      const { InteractionsModule } = require('crm-interactions');
      const loaded = (name) => Object.keys(require.cache).some((file) => file.includes(name));
      const out = { pglite: loaded('@electric-sql/pglite'), esdb: loaded('@eventstore/db-client'), errors: [] };
      const directory = { findContacts: async () => [] };
      (async () => {
        for (const options of [
          { database: { pglite: { dataDir: 'memory://' } } },
          { database: { connectionString: 'postgres://127.0.0.1:1/none' }, eventStore: { kind: 'eventstoredb', connectionString: 'esdb://127.0.0.1:1?tls=false' } },
        ]) {
          await NestFactory.createApplicationContext(InteractionsModule.forRoot({ ...options, contactDirectory: directory }), { logger: false, abortOnError: false })
            .then((app) => app.close(), (error) => out.errors.push(error.message));
        }
        console.log(JSON.stringify(out));
      })();`;
    const out = JSON.parse(run(process.execPath, ['-e', script], consumer)) as { pglite: boolean; esdb: boolean; errors: string[] };
    expect(out).toEqual({
      pglite: false,
      esdb: false,
      errors: [
        expect.stringContaining('needs the package @electric-sql/pglite, which is not installed: npm install @electric-sql/pglite'),
        expect.stringContaining('needs the package @eventstore/db-client, which is not installed: npm install @eventstore/db-client'),
      ],
    });
  });
});
