import { execFileSync } from 'node:child_process';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/**
 * The JavaScript `npm run compile` makes of a source file under the repository: what a child process a
 * test spawns runs (jest's own transform serves only the test processes).
 */
export function compiledPath(source: string): string {
  return join(ROOT, '.build', relative(ROOT, resolve(ROOT, source)).replace(/\.ts$/, '.js'));
}

/** `npm run compile`'s script, once per jest run (globalSetup), so the child processes run the current sources. */
export function compileSources(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'compile.js')], { cwd: ROOT, stdio: 'inherit' });
}
