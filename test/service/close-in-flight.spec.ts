import { InteractionUnavailableError } from '../../src';
import { BACKENDS } from '../support/backends';
import { startModule } from '../support/module';

/**
 * Closing the application while commands run: each one either completes or fails with the module's
 * InteractionUnavailableError (nothing written), never a driver's "PGlite is closed" or "Cannot use a pool
 * after calling end on the pool"; a call after the close fails the same way.
 */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('closing under load, on %s', (_name, backend) => {
  it('finishes while callers keep calling, and twice at once is one close', async () => {
    const m = await startModule({ backend });
    let busy = true;
    const callers = Array.from({ length: 4 }, async () => {
      while (busy) {
        await m.service.listRecent().catch(() => undefined);
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const closing = Promise.all([m.app.close(), m.app.close()]).then(() => 'closed');
      expect(await Promise.race([closing, new Promise((resolve) => setTimeout(() => resolve('still closing after 10 s'), 10_000))])).toBe('closed');
    } finally {
      busy = false;
      await Promise.all(callers);
      await m.close();
    }
  });
});

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('closing with commands in flight, on %s', (_name, backend) => {
  it.each([0, 5, 20])('answers every command under way when the close starts %d ms after them, and every call after it', async (afterMs) => {
    const m = await startModule({ backend });
    try {
      const contactUuid = m.newContact({ name: 'Ada' });
      const commands = Array.from({ length: 30 }, (_, i) =>
        m.service.createInteraction({ contactUuid, subject: `in flight ${i}` }).then(
          (created) => ({ created: created.uuid }),
          (error: unknown) => ({ error }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      await m.app.close();
      for (const outcome of await Promise.all(commands)) {
        if ('error' in outcome) expect(outcome.error).toMatchObject({ name: 'InteractionUnavailableError', committed: false });
      }
      await expect(m.service.createInteraction({ contactUuid, subject: 'after' })).rejects.toBeInstanceOf(InteractionUnavailableError);
      await expect(m.service.listRecent()).rejects.toBeInstanceOf(InteractionUnavailableError);
      // What completed is stored, whole; what failed is not.
      const stored = (await m.db.query<{ subject: string }>('SELECT subject FROM interactions', [])).rows.map((row) => row.subject).sort();
      const created = (await Promise.all(commands)).filter((outcome) => 'created' in outcome).length;
      expect(stored).toHaveLength(created);
    } finally {
      await m.close();
    }
  });
});
