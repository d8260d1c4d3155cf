import { Table } from '../report';
import { Scale } from '../scales';

/** What every scenario gets from the runner: where the data is and how big it is. */
export interface BenchContext {
  databaseUrl: string;
  /** The run's own schema: the module's tables (log loaded, read tables rebuilt) and the CRUD baseline's. */
  schema: string;
  scale: Scale;
  seed: number;
  /** Progress lines (stderr), not part of the result tables. */
  log(message: string): void;
}

/**
 * What a scenario hands back: its tables, and optionally figures for `--json` (merged at the top level of
 * the file, next to scale, seed, machine, log and tables).
 */
export interface ScenarioResult {
  tables: Table[];
  json?: Record<string, unknown>;
}
