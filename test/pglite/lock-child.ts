import { DirectoryInUseError, lockDirectory } from '../../src/adapters/pglite/directory-lock';

/**
 * One contender for lock.spec.ts: `lock-child.ts <dir> <at ms>` waits until `at`, so that every
 * contender tries at the same moment, then prints `won <pid>` (and holds the lock for `hold ms`) or
 * `busy <holder pid>`.
 */
const [dir, at, hold] = process.argv.slice(2);
setTimeout(() => {
  try {
    const lock = lockDirectory(dir!);
    process.stdout.write(`won ${process.pid}\n`);
    setTimeout(() => lock.release(), Number(hold));
  } catch (error) {
    if (!(error instanceof DirectoryInUseError)) throw error;
    process.stdout.write(`busy ${error.holderPid}\n`);
  }
}, Math.max(0, Number(at) - Date.now()));
