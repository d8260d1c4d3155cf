import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';

/** `npm run esdb:test-server -- --port N`: the connection string on the first line, serving until killed. */
describe('the standalone protocol test server', () => {
  it('prints its connection string first, serves clients, and stops on SIGTERM', async () => {
    const server = spawn('npm', ['run', '--silent', 'esdb:test-server', '--', '--port', '0'], {
      cwd: join(__dirname, '../..'),
      detached: true, // its own process group: npm and the server get the signal together
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(server, 'exit');
    try {
      const lines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
      const first = (await lines.next()).value as string;
      expect(first).toMatch(/^esdb:\/\/127\.0\.0\.1:\d+\?tls=false$/);

      const client = EventStoreDBClient.connectionString(first);
      try {
        await client.appendToStream('standalone-1', jsonEvent({ type: 'Hello', data: { ok: true } }), { expectedRevision: 'no_stream' });
        const read = [];
        for await (const resolved of client.readStream('standalone-1')) read.push(resolved.event!.data);
        expect(read).toEqual([{ ok: true }]);
      } finally {
        await client.dispose();
      }
    } finally {
      process.kill(-server.pid!, 'SIGTERM');
    }
    const [code, signal] = await exited;
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
  });
});
