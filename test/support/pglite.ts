import { PGlite } from '@electric-sql/pglite';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One in-memory PGlite per test file (tests isolate themselves by schema, as on the server). A fresh
 * cluster takes seconds to initialise, so the first one is dumped to a temp file and later ones load it.
 */
let shared: Promise<PGlite> | null = null;

const TEMPLATE = join(tmpdir(), `crm-interactions-pglite-template-${process.getuid?.() ?? 0}.tar`);

async function create(): Promise<PGlite> {
  if (existsSync(TEMPLATE)) {
    try {
      return await PGlite.create({ loadDataDir: new Blob([readFileSync(TEMPLATE)]) });
    } catch {
      // a template from another PGlite version: make a new one below
    }
  }
  const pglite = await PGlite.create();
  const dump = await pglite.dumpDataDir('none');
  const partial = `${TEMPLATE}.${process.pid}`;
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
  renameSync(partial, TEMPLATE);
  return pglite;
}

export function sharedPGlite(): Promise<PGlite> {
  shared ??= create();
  return shared;
}

afterAll(async () => {
  if (shared) await (await shared).close();
  shared = null;
});
