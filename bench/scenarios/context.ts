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
