import { setFlagsFromString } from 'node:v8';

/**
 * For a process the project itself starts (the CLI, the demo host), never a host's: PGlite is PostgreSQL
 * compiled to WebAssembly, which V8 runs on its baseline compiler and recompiles, function by function,
 * with its optimising one once a function has run enough. Postgres' start-up path crosses that threshold
 * at once, so a short command paid for optimising code it would not run again, and the event loop waited
 * on it (quiet machine: CLI `stats` 1.9–2.2 s, 1.7 s with this; demo host ready 2.7 s, 2.5 s). A larger
 * budget keeps a short run on baseline code; what runs long (a rebuild, a serving host) is still
 * optimised. Set before PGlite compiles its module: V8 reads it then.
 */
export function startPGliteQuickly(): void {
  setFlagsFromString('--wasm-tiering-budget=50000000');
}
