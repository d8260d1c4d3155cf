import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmtMs, median, msSince, rotate, Table } from '../report';
import { BenchContext, ScenarioResult } from './context';

/**
 * startup: how long the project's own processes take to be of use, on PGlite (issue #12): the CLI's
 * `stats` on an existing folder, and the demo host until `/health` answers 200, on an existing folder and
 * on a new one. Each is a fresh Node process running what `npm run compile` made (npm's own start-up,
 * ~0.5 s here, comes on top with `npm start` / `npm run cli`); next to it, the floor: Node starting and
 * exiting. The kinds are interleaved, their order rotated every round.
 */
const ROUNDS = 5;
const TARGETS_MS = { cliStats: 2000, demoExisting: 3000, demoFresh: 6000 } as const;

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'bin', 'crm-interactions.js');
const DEMO = join(__dirname, '..', '..', 'src', 'demo', 'main.js');
const PGLITE_ONLY = { DATABASE_URL: '', KURRENTDB_URL: '', DEBUG: '' };

/** Runs `args` with Node to its end; the time from spawn to exit. */
function timedRun(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(msSince(start)) : reject(new Error(`${args.join(' ')} exited with ${code}`))));
  });
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/health', timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    }).on('error', () => resolve(false));
  });
}

/**
 * The demo host on `dataDir`: the time from spawn to its first 200 on /health; then it is stopped. It
 * listens on a port of the kernel's choosing, which it names in its log once it listens.
 */
async function timedDemo(dataDir: string): Promise<number> {
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, [DEMO], {
    env: { ...process.env, ...PGLITE_ONLY, PGLITE_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let port: number | null = null;
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    if (port !== null) return;
    output += chunk.toString();
    const listening = /demo on http:\/\/localhost:(\d+)/.exec(output);
    if (listening) port = Number(listening[1]);
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the demo host exited with ${child.exitCode} before /health answered`);
      if (port !== null && (await healthy(port))) return msSince(start);
      if (msSince(start) > 60_000) throw new Error('the demo host did not answer /health within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    // SIGTERM: the host closes PGlite, so the folder is left as a later start finds it.
    child.kill('SIGTERM');
    await exited;
  }
}

export async function startupScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const folders = mkdtempSync(join(tmpdir(), 'crm-interactions-startup-'));
  const existing = join(folders, 'existing');
  const samples: Record<'node' | 'cliStats' | 'demoExisting' | 'demoFresh', number[]> = { node: [], cliStats: [], demoExisting: [], demoFresh: [] };
  try {
    await timedDemo(existing); // the existing folder: made, migrated and given the sample data once
    const kinds = {
      node: () => timedRun(['-e', '0'], {}),
      cliStats: () => timedRun([CLI, 'stats'], { ...PGLITE_ONLY, PGLITE_DATA_DIR: existing }),
      demoExisting: () => timedDemo(existing),
      demoFresh: () => timedDemo(join(folders, `fresh-${samples.demoFresh.length}`)),
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of rotate(Object.keys(kinds) as (keyof typeof kinds)[], round)) samples[kind].push(await kinds[kind]());
      ctx.log(`round ${round + 1}/${ROUNDS}: ${Object.entries(samples).map(([kind, ms]) => `${kind} ${fmtMs(ms[round]!)} ms`).join(', ')}`);
    }
  } finally {
    rmSync(folders, { recursive: true, force: true });
  }
  const row = (label: string, kind: keyof typeof samples, target?: number) => {
    const ms = samples[kind];
    const m = median(ms);
    return [label, fmtMs(m), `${fmtMs(Math.min(...ms))}–${fmtMs(Math.max(...ms))}`, target ? `< ${fmtMs(target)}` : '–', target ? (m < target ? 'yes' : 'no') : '–'];
  };
  const table: Table = {
    title: 'startup: the CLI and the demo host on PGlite, ready to use (ms)',
    columns: ['', 'median', 'min–max', 'target', 'met?'],
    rows: [
      row('Node: start and exit (the floor)', 'node'),
      row('CLI `stats`, existing folder', 'cliStats', TARGETS_MS.cliStats),
      row('demo host to /health 200, existing folder', 'demoExisting', TARGETS_MS.demoExisting),
      row('demo host to /health 200, new folder', 'demoFresh', TARGETS_MS.demoFresh),
    ],
    notes: [
      `${ROUNDS} rounds, the kinds interleaved in an order rotated every round; each a new Node process running what \`npm run compile\` made (.build/)`,
      'the existing folder holds the demo\'s sample data; a new folder starts from the demo\'s PGlite template (src/demo/pglite-template)',
      '`npm start` and `npm run cli` add npm\'s own start-up and the compile step\'s check (~0.1 s when nothing changed)',
      'targets: issue #12',
    ],
  };
  const medians = Object.fromEntries(Object.entries(samples).map(([kind, ms]) => [`${kind}Ms`, median(ms)]));
  return { tables: [table], json: { startup: medians } };
}
