import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { compiledPath } from '../support/compiled';

const ROOT = resolve(__dirname, '../..');

export interface HostProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  base: string;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/**
 * The demo host as `npm start` runs it, in a process of its own on 127.0.0.1 and a free port, with
 * `env` on top of the test's environment (DATABASE_URL, PGLITE_DATA_DIR, CRM_INTERACTIONS_SCHEMA, …).
 * Resolves once it listens; rejects with its output if it exits first.
 */
export function spawnHost(env: Record<string, string>): { started: Promise<HostProcess>; child: ChildProcess } {
  const child = spawn(process.execPath, [compiledPath('src/demo/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: '', KURRENTDB_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal })),
  );
  const started = new Promise<HostProcess>((resolveStart, reject) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000); // request logs: keep the tail only
      const match = /demo on http:\/\/localhost:(\d+)/.exec(output);
      if (match) resolveStart({ child, base: `http://127.0.0.1:${match[1]}`, exited, output: () => output });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) => reject(new Error(`the host exited (${code ?? signal}) before listening: ${output}`)));
  });
  return { started, child };
}

/** Output and exit of a host that is expected to fail to start. */
export async function failedHost(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const { started, child } = spawnHost(env);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolveExit) => child.once('exit', (exitCode) => resolveExit(exitCode)));
  started.then((host) => host.child.kill('SIGKILL'), () => undefined); // it started: the test fails on the code
  return { code, output };
}
