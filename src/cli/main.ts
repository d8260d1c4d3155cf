import 'reflect-metadata';
import { ConsoleLogger, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { InteractionsMaintenance } from '../nest/interactions.maintenance';
import { InteractionsModule } from '../nest/interactions.module';
import { InteractionsService } from '../nest/interactions.service';
import { ContactDirectory } from '../ports/directories';
import { LifecycleFanOut } from '../lifecycle';
import { describeDatabase, moduleOptionsFromEnvironment } from './environment';
import { auditRows, formatTable } from './audit';
import { startPGliteQuickly } from '../adapters/pglite/quick-start';
import { parseDate } from '../domain/validation';

/** The CLI reads and replays; it never logs an interaction, so no contact is ever looked up. */
const NO_CONTACTS: ContactDirectory = { findContacts: async () => [] };

async function withModule<T>(
  work: (app: INestApplicationContext) => Promise<T>,
  options: { migrate?: boolean } = {},
): Promise<T> {
  // A failed start rejects here (abortOnError: false) and closes what it opened; Nest would log it with its
  // stack first, so its logger is quiet until the module is up (run() prints the one line).
  const app = await NestFactory.createApplicationContext(
    // Pending lifecycle decisions are finished by `resume` alone, in the foreground.
    InteractionsModule.forRoot({ ...moduleOptionsFromEnvironment(), contactDirectory: NO_CONTACTS, resumeLifecycleOnStart: false, ...options }),
    { logger: process.env.DEBUG ? ['error', 'warn'] : false, abortOnError: false },
  );
  app.useLogger(new ConsoleLogger({ logLevels: ['error', 'warn'] }));
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

/** Set when stdout's reader went away (`crm-interactions stats | head -1`): the rest is not wanted. */
let stdoutClosed = false;
const out = (text: string) => {
  if (!stdoutClosed) process.stdout.write(`${text}\n`);
};
const positionText = (p: { commit: bigint; prepare: bigint }) => `${p.commit}/${p.prepare}`;

/** A whole number ≥ 1, else a UserError: checked before anything is opened, so nothing changes. */
function positiveInteger(option: string, text: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UserError(`${option} must be a positive integer, got "${text}"`);
  }
  return value;
}

async function rebuildCommand(options: { batchSize?: string }): Promise<void> {
  const batchSize = options.batchSize === undefined ? undefined : positiveInteger('--batch-size', options.batchSize);
  await withModule(async (app) => {
    const maintenance = app.get(InteractionsMaintenance);
    const total = (await maintenance.stats()).events ?? 0;
    const started = Date.now();
    const rate = (events: number) => Math.round(events / Math.max((Date.now() - started) / 1000, 0.001));
    const bar = new SingleBar({
      format: 'rebuild [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta_formatted}',
      noTTYOutput: false,
      hideCursor: true,
    });
    bar.start(total, 0, { rate: 0 });
    // The bar hides the cursor and turns off line wrapping: given back on Ctrl-C (the rebuild's transaction
    // rolls back with the process) and on a failure too.
    const interrupted = () => {
      bar.stop();
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    let summary: Awaited<ReturnType<InteractionsMaintenance['rebuild']>>;
    try {
      summary = await maintenance.rebuild({
        ...(batchSize !== undefined && { batchSize }),
        onProgress: (events) => bar.update(events, { rate: rate(events) }),
      });
    } finally {
      process.off('SIGINT', interrupted);
      bar.stop();
    }
    const seconds = (Date.now() - started) / 1000;
    out(`rebuilt the read tables from ${summary.events} events in ${seconds.toFixed(1)} s (${rate(summary.events)} events/s)`);
    out(`checkpoint ${positionText(summary.position)}`);
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const program = new Command()
    .name('crm-interactions')
    .description(`Maintain and audit the interactions log (${describeDatabase(moduleOptionsFromEnvironment())})`)
    // A usage error is a failure like any other: one line, as `fail` writes it (--help shows the usage).
    .configureOutput({
      outputError: (text, write) => write(`crm-interactions: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (see --help)\n`),
    });

  program
    .command('migrate')
    .description('create or upgrade the tables')
    .action(() =>
      withModule(
        async (app) => {
          const applied = await app.get(InteractionsMaintenance).migrate();
          out(applied.length > 0 ? `applied ${applied.join(', ')}` : 'nothing to apply: the tables are up to date');
        },
        { migrate: false },
      ),
    );

  program
    .command('rebuild')
    .description('empty the read tables and replay the whole log into them')
    .option('--batch-size <n>', "events per batch (default: the rebuild's own)")
    .action(rebuildCommand);

  program
    .command('audit <uuid>')
    .description("an interaction's events: revision, time, type, actor and what changed")
    .action((uuid: string) =>
      withModule(async (app) => {
        const events = await app.get(InteractionsService).history(uuid);
        if (events.length === 0) throw new UserError(`no events for interaction ${uuid}`);
        out(formatTable(auditRows(events), ['revision', 'time', 'type', 'actor', 'changes']));
      }),
    );

  program
    .command('as-of <uuid> <time>')
    .description('the interaction as it was at an ISO-8601 time, folded from its stream')
    .action((uuid: string, time: string) =>
      withModule(async (app) => {
        // As the API reads a time: ISO-8601, without an offset in UTC (never the machine's zone).
        const at = parseDate(time);
        if (!at) throw new UserError(`not an ISO-8601 time: ${time}`);
        const interaction = await app.get(InteractionsService).getInteractionAsOf(uuid, at);
        if (!interaction) throw new UserError(`interaction ${uuid} did not exist at ${at.toISOString()}`);
        out(JSON.stringify(interaction, null, 2));
      }),
    );

  program
    .command('stats')
    .description('streams, events, read-table rows, checkpoint and head')
    .action(() =>
      withModule(async (app) => {
        const stats = await app.get(InteractionsMaintenance).stats();
        out(`streams                  ${stats.streams ?? 'n/a'}`);
        out(`events                   ${stats.events ?? 'n/a'}`);
        for (const [table, rows] of Object.entries(stats.readTables)) out(`${table.padEnd(24)} ${rows}`);
        out(`head                     ${positionText(stats.head)}`);
        out(
          stats.projection === 'inline'
            ? `checkpoint               ${positionText(stats.checkpoint)} (inline projection: the read tables follow every append, no lag)`
            : `checkpoint               ${positionText(stats.checkpoint)} (subscription)`,
        );
      }),
    );

  program
    .command('parked [retry]')
    .description('events the projection could not apply; `parked retry` applies what now applies')
    .action((retry: string | undefined) => {
      if (retry !== undefined && retry !== 'retry') throw new UserError(`unknown parked command: ${retry} (try: parked retry)`);
      return withModule(async (app) => {
        const maintenance = app.get(InteractionsMaintenance);
        if (retry) {
          const { applied, stillParked } = await maintenance.retryParked();
          out(`applied ${applied}, still parked ${stillParked}`);
          return;
        }
        const parked = await maintenance.parkedEvents();
        if (parked.length === 0) return out('no parked events');
        const rows = parked.map((p) => ({
          stream: p.streamName,
          revision: p.revision,
          position: positionText(p.position),
          type: p.type,
          'parked at': p.parkedAt.toISOString(),
          error: p.error.replace(/\s+/g, ' '),
        }));
        out(formatTable(rows, ['stream', 'revision', 'position', 'type', 'parked at', 'error']));
      });
    });

  program
    .command('resume')
    .description("finish the contacts' lifecycle decisions (deletions, merges, erasures) a process left half done")
    .action(() =>
      withModule(async (app) => {
        const { decisions, interactions, failed } = await app.get(LifecycleFanOut).resumePending();
        out(decisions > 0 || failed > 0 ? `finished ${decisions} pending decision(s), ${interactions} interaction(s)` : 'no pending decisions');
        if (failed > 0) throw new UserError(`${failed} pending decision(s) not finished: the reasons are logged above`);
      }),
    );

  program
    .command('forget')
    .description('erase a contact (GDPR art. 17): forgetContact, then every copy of its data in the module reads "[erased]"')
    .argument('<contactUuid>', 'the contact to forget')
    .option('--actor <uuid>', 'who asked for it, recorded in the events')
    .action((contactUuid: string, options: { actor?: string }) =>
      withModule(async (app) => {
        const { interactions } = await app.get(InteractionsService).forgetContact(contactUuid, { actorUuid: options.actor });
        out(`forgot contact ${contactUuid.toLowerCase()}: ${interactions} interaction(s) changed`);
      }),
    );

  await program.parseAsync([...argv], { from: 'user' });
}

/** A failure the user can act on: printed without a stack trace. */
class UserError extends Error {}

/** One line on stderr, whatever failed; the stack only with DEBUG (never for a UserError). */
function fail(error: unknown): void {
  process.stderr.write(`crm-interactions: ${error instanceof Error ? error.message || error.name : String(error)}\n`);
  if (!(error instanceof UserError) && process.env.DEBUG) console.error(error);
  process.exitCode = 1;
  // Out even where something failed to close: PGlite that failed to start cannot be disposed of, and its
  // timers would keep the process waiting for ever. Unref'd: a run that ends by itself exits at once.
  setTimeout(() => process.exit(), FAILED_EXIT_MS).unref();
}

/** How long a failed run may take to finish closing before it exits anyway. */
const FAILED_EXIT_MS = 2_000;

export function run(argv: readonly string[]): void {
  startPGliteQuickly();
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // EPIPE, and for writes queued before it surfaced, a destroyed stream.
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') return fail(error);
    stdoutClosed = true; // the reader has what it wanted: finish quietly
  });
  // Whatever escaped every handler: one line, and out (the state of the run is unknown).
  const crash = (error: unknown) => {
    fail(error);
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  main(argv).catch(fail);
}
