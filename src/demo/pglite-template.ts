import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/**
 * A new PGlite folder starts with initdb, most of a fresh demo start (~4.5 of ~7 s). The demo ships
 * initdb's result for the PGlite version it is built with, and a new folder loads that instead (~1.7 s).
 * Only the demo: the published package ships no template. It is PGlite's own output, made by
 * `npm run demo:template` after an upgrade of @electric-sql/pglite (test/pglite/open-options.spec.ts
 * fails until it is); with no template for the installed version, initdb runs as before.
 */
const TEMPLATES = join(__dirname, 'pglite-template');

export function installedPGliteVersion(): string {
  const packageJson = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
}

export const templateFileName = (version: string): string => `pglite-${version}.tar.gz`;

/** The template for the installed PGlite, if the demo has one. */
export function pgliteTemplate(): string | undefined {
  const file = join(TEMPLATES, templateFileName(installedPGliteVersion()));
  return existsSync(file) ? file : undefined;
}

/** Runs initdb in memory and writes its data directory, gzipped, into `folder`. */
async function makeTemplate(folder: string): Promise<string> {
  const pglite = await PGlite.create('memory://');
  try {
    const dump = await pglite.dumpDataDir('gzip');
    mkdirSync(folder, { recursive: true });
    const file = join(folder, templateFileName(installedPGliteVersion()));
    writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
    return file;
  } finally {
    await pglite.close();
  }
}

if (require.main === module) {
  makeTemplate(process.argv[2] ?? TEMPLATES).then(
    (file) => console.log(`wrote ${file}`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
