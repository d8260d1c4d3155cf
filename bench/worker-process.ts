import { ChildProcess, fork } from 'node:child_process';

/**
 * A side of a write scenario in a Node process of its own, driven one request at a time over IPC: its
 * CPU is measured alone (process.cpuUsage), and what it loads (Emmett's process-wide type parsers, a
 * second module instance) stays out of the scenario's process. Node built-ins only: a worker that must
 * not load the module (Emmett's) imports this too.
 */
export type WorkerReply<R> = { ok: true; result: R } | { ok: false; error: string };

/** The worker's side: answers each request with what `handle` returns, or its error. */
export function serveRequests<Q, R>(handle: (request: Q) => Promise<R>): void {
  process.on('message', (request: Q) => {
    handle(request).then(
      (result) => process.send!({ ok: true, result } satisfies WorkerReply<R>),
      (error: unknown) =>
        process.send!({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies WorkerReply<R>),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** The scenario's side: forks `file`, compiled JavaScript (with this process's flags). */
export class WorkerProcess<Q extends { kind: string }, R> {
  private readonly child: ChildProcess;
  private waiting: { resolve: (reply: WorkerReply<R>) => void; reject: (error: Error) => void } | null = null;

  constructor(
    file: string,
    private readonly label: string,
  ) {
    this.child = fork(file, [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (reply: WorkerReply<R>) => {
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.resolve(reply);
    });
    this.child.on('exit', (code) => {
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.reject(new Error(`${label} exited (code ${code})`));
    });
  }

  async request(request: Q): Promise<R> {
    const reply = await new Promise<WorkerReply<R>>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.child.send(request);
    });
    if (!reply.ok) throw new Error(`${this.label}: ${reply.error}`);
    return reply.result;
  }

  /** Asks the worker to close (`closing`), then lets it exit. */
  async stop(closing: Q): Promise<void> {
    if (this.child.exitCode !== null) return;
    await this.request(closing).catch(() => undefined);
    this.child.disconnect();
  }
}
