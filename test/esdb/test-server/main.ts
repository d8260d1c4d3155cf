import { EsdbTestCluster } from './cluster';
import { EsdbTestServer } from './server';

/**
 * The protocol test server on its own: `npm run esdb:test-server -- [--port N] [--host H]
 * [--write-timeout-ms N] [--append-delay-ms N] [--cluster N [--election-ms N]]`. The first line on stdout
 * is the connection string; it runs until killed (SIGINT/SIGTERM close it cleanly). With `--cluster N`, N
 * nodes on ports N, N+1, … (any free ones with `--port 0`) sharing one log, and the connection string names
 * them all; SIGUSR2 then stops the leader (another is elected after `--election-ms`, default 500).
 */
export async function main(argv: string[]): Promise<void> {
  const option = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    const inline = argv.find((arg) => arg.startsWith(`--${name}=`));
    return inline ? inline.slice(name.length + 3) : at >= 0 ? argv[at + 1] : undefined;
  };
  const port = Number(option('port') ?? 2113);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`Invalid --port ${option('port')}\n`);
    process.exit(2);
  }
  const integer = (name: string, min = 0): number | undefined => {
    const value = option(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      process.stderr.write(`Invalid --${name} ${value}\n`);
      process.exit(2);
    }
    return n;
  };
  const options = {
    host: option('host') ?? '127.0.0.1',
    writeTimeoutMs: integer('write-timeout-ms'),
    appendDelayMs: integer('append-delay-ms'),
  };
  const size = integer('cluster', 1);
  if (size !== undefined) {
    const cluster = await EsdbTestCluster.start({
      ...options,
      size,
      ports: Array.from({ length: size }, (_, i) => (port === 0 ? 0 : port + i)),
      electionMs: integer('election-ms'),
    });
    process.stdout.write(`${cluster.connectionString}\n`);
    process.on('SIGUSR2', () => void cluster.stopLeader().catch((error: Error) => process.stderr.write(`${error.message}\n`)));
    return stopOnSignal(() => cluster.close());
  }
  const server = await EsdbTestServer.start({ ...options, port });
  process.stdout.write(`${server.connectionString}\n`);
  stopOnSignal(() => server.close());
}

function stopOnSignal(close: () => Promise<void>): void {
  const stop = async () => {
    await close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
