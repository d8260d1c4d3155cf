import { Queryable } from '../ports/database';

/**
 * Which contacts a forget took away (`forgotten_contacts`, written with the decision: the contact and those
 * merged with it). The writer refuses them as not existing, whatever the host's directory says until it has
 * removed them: nothing written after a forget holds her again. The look-ups of one turn of the event loop
 * share one statement, so the commands of that turn reach the event store in one turn too (creates share
 * their statement there).
 */
export class ForgottenContacts {
  private pending: Array<{ uuids: string[]; resolve: (forgotten: Set<string>) => void; reject: (error: unknown) => void }> = [];

  constructor(private readonly db: Queryable) {}

  /** Of these (lower-case) contacts, the forgotten ones. */
  among(uuids: string[]): Promise<Set<string>> {
    return new Promise((resolve, reject) => {
      if (this.pending.push({ uuids, resolve, reject }) === 1) setImmediate(() => void this.send());
    });
  }

  private async send(): Promise<void> {
    const asked = this.pending.splice(0);
    try {
      const { rows } = await this.db.query<{ uuid: string }>('SELECT uuid::text AS uuid FROM forgotten_contacts WHERE uuid = ANY($1::uuid[])', [
        [...new Set(asked.flatMap((ask) => ask.uuids))],
      ]);
      const forgotten = new Set(rows.map((row) => row.uuid));
      for (const ask of asked) ask.resolve(new Set(ask.uuids.filter((uuid) => forgotten.has(uuid))));
    } catch (error) {
      for (const ask of asked) ask.reject(error);
    }
  }
}
