import { EsdbTestServer } from './server';

/**
 * The protocol test server on its own: `npm run esdb:test-server -- [--port N] [--host H]
 * [--write-timeout-ms N] [--append-delay-ms N]`. The first line on stdout is the connection string; it runs
 * until killed (SIGINT/SIGTERM close it cleanly).
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
  const milliseconds = (name: string): number | undefined => {
    const value = option(name);
    if (value === undefined) return undefined;
    const ms = Number(value);
    if (!Number.isInteger(ms) || ms < 0) {
      process.stderr.write(`Invalid --${name} ${value}\n`);
      process.exit(2);
    }
    return ms;
  };
  const server = await EsdbTestServer.start({
    port,
    host: option('host') ?? '127.0.0.1',
    writeTimeoutMs: milliseconds('write-timeout-ms'),
    appendDelayMs: milliseconds('append-delay-ms'),
  });
  process.stdout.write(`${server.connectionString}\n`);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
