import { Injectable } from '@nestjs/common';
import { uuidv7 } from '../domain/uuid';
import { z } from 'zod';
import { ContactRecord } from '../domain/interaction';
import { InteractionValidationError } from '../domain/errors';
import { ContactDirectory } from '../ports/directories';
import { Database } from '../ports/database';
import { STORABLE_TEXT } from '../domain/storable';
import { MESSAGES, validateIdempotencyKey } from '../domain/validation';
import { IDEMPOTENCY_KEY_REUSED } from '../nest/idempotency';

const CONTACTS_TABLE = `
  CREATE TABLE IF NOT EXISTS contacts (
    uuid uuid PRIMARY KEY,
    name text,
    email text,
    company text,
    role_in_company text,
    department text,
    created_at timestamptz NOT NULL DEFAULT now()
  )`;

const optionalText = z
  .string({ error: MESSAGES.string })
  .trim()
  .max(255, { error: 'must be at most 255 characters' })
  // PostgreSQL text refuses U+0000; a pattern, so that the OpenAPI document's NewContact says so too.
  .regex(STORABLE_TEXT, { error: MESSAGES.invalidCharacters })
  .nullish();
/** A new contact (POST /contacts); also the OpenAPI document's `NewContact` (src/demo/openapi-schemas.ts). */
export const newContactSchema = z.object(
  {
    name: optionalText,
    email: z.email({ error: 'is not a valid email address' }).nullish(),
    company: optionalText,
    roleInCompany: optionalText,
    department: optionalText,
  },
  { error: 'must be an object' },
);

/** A rename or other correction: only the fields given change. */
export const contactChangesSchema = newContactSchema.partial();

/** The column of each field a change may name. */
const COLUMNS = { name: 'name', email: 'email', company: 'company', roleInCompany: 'role_in_company', department: 'department' } as const;

/** Zod issues as the module's `{ field: [messages] }`. */
function validationError(error: z.ZodError): InteractionValidationError {
  const errors: Record<string, string[]> = {};
  for (const issue of error.issues) (errors[issue.path.join('.') || 'contact'] ??= []).push(issue.message);
  return new InteractionValidationError(errors);
}

interface ContactRow {
  uuid: string;
  name: string | null;
  email: string | null;
  company: string | null;
  role_in_company: string | null;
  department: string | null;
}

const toRecord = (row: ContactRow): ContactRecord => ({
  uuid: row.uuid,
  name: row.name,
  email: row.email,
  company: row.company,
  roleInCompany: row.role_in_company,
  department: row.department,
});

/** The removal's request key ($2), for the contact $1 (a repeat of the request is answered as the first). */
const REMEMBER_REMOVAL = `INSERT INTO removed_contacts (uuid, idempotency_key) SELECT $1, $2 WHERE $2::text IS NOT NULL ON CONFLICT DO NOTHING`;

/** The demo host's own small contacts table: what a real CRM's contacts would be to the module. */
@Injectable()
export class DemoContacts implements ContactDirectory {
  constructor(private readonly db: Database) {}

  /** Safe when two hosts start at once on an empty database: they take turns (CREATE … IF NOT EXISTS races). */
  async migrate(): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`crm_demo.migrate.${this.db.schema}`]);
      await tx.query(`CREATE SCHEMA IF NOT EXISTS "${this.db.schema}"`); // quoted: the name may be a keyword
      await tx.query(CONTACTS_TABLE, []);
      await tx.query('CREATE TABLE IF NOT EXISTS sample_data (seeded boolean PRIMARY KEY)', []);
      // Which request (its Idempotency-Key) removed a contact: its repeat is answered, not a 404.
      await tx.query('CREATE TABLE IF NOT EXISTS removed_contacts (uuid uuid NOT NULL, idempotency_key text NOT NULL, PRIMARY KEY (uuid, idempotency_key))', []);
      // Which contacts the demo merged: forgetting one forgets them all (one person to the module), so all their rows go.
      await tx.query('CREATE TABLE IF NOT EXISTS merged_contacts (from_uuid uuid NOT NULL, into_uuid uuid NOT NULL, PRIMARY KEY (from_uuid, into_uuid))', []);
      // Which request (its Idempotency-Key and body) created a contact, and the answer: its repeat gets that answer.
      await tx.query('CREATE TABLE IF NOT EXISTS created_contacts (idempotency_key text PRIMARY KEY, request text NOT NULL, contact jsonb NOT NULL)', []);
    });
  }

  /** True for exactly one caller ever, on a database without contacts: the one that adds the samples. */
  async claimSampleData(): Promise<boolean> {
    const { rows } = await this.db.query(
      `INSERT INTO sample_data (seeded) SELECT true WHERE NOT EXISTS (SELECT 1 FROM contacts)
       ON CONFLICT DO NOTHING RETURNING seeded`,
      [],
    );
    return rows.length > 0;
  }

  async findContacts(uuids: string[]): Promise<ContactRecord[]> {
    const { rows } = await this.db.query<ContactRow>('SELECT * FROM contacts WHERE uuid = ANY($1::uuid[])', [uuids]);
    return rows.map(toRecord);
  }

  async list(): Promise<ContactRecord[]> {
    const { rows } = await this.db.query<ContactRow>('SELECT * FROM contacts ORDER BY created_at, uuid', []);
    return rows.map(toRecord);
  }

  /**
   * Removes a contact, remembering the request's key also where a concurrent request removed the row first:
   * both were answered as having removed it, so a repeat of either is answered so again.
   */
  async delete(uuid: string, idempotencyKey?: string, mergedInto?: string): Promise<void> {
    await this.db.query(
      `WITH removed AS (DELETE FROM contacts WHERE uuid = $1),
       merged AS (INSERT INTO merged_contacts (from_uuid, into_uuid) SELECT $1, $3 WHERE $3::uuid IS NOT NULL ON CONFLICT DO NOTHING)
       ${REMEMBER_REMOVAL}`,
      [uuid, idempotencyKey ?? null, mergedInto ?? null],
    );
  }

  /**
   * Removes a forgotten contact and every contact the demo merged with it, either way and through chains of
   * merges, with what it kept of their creates.
   */
  async forget(uuid: string, idempotencyKey?: string): Promise<void> {
    await this.db.query(
      `WITH RECURSIVE person(uuid) AS (
         SELECT $1::uuid
         UNION
         SELECT CASE WHEN m.from_uuid = p.uuid THEN m.into_uuid ELSE m.from_uuid END
         FROM merged_contacts m JOIN person p ON p.uuid IN (m.from_uuid, m.into_uuid)),
       removed AS (DELETE FROM contacts WHERE uuid IN (SELECT uuid FROM person)),
       -- The answers kept for repeats of their creates hold their personal data too (a repeat brings its own).
       unremembered AS (DELETE FROM created_contacts WHERE contact->>'uuid' IN (SELECT uuid::text FROM person))
       ${REMEMBER_REMOVAL}`,
      [uuid, idempotencyKey ?? null],
    );
  }

  /** The contact was removed by a request with this key (a repeat of it is answered as the first). */
  async removedBy(uuid: string, idempotencyKey: string): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM removed_contacts WHERE uuid = $1 AND idempotency_key = $2', [uuid, idempotencyKey]);
    return rows.length > 0;
  }

  /**
   * `uuid`: the sample data's fixed ones (the API document's examples name them); new ones otherwise.
   * `idempotencyKey`: a repeat of the request (a retry after a lost answer) answers the contact it created
   * instead of creating a second one; the key with another body is a 422.
   */
  async create(input: unknown, { uuid = uuidv7(), idempotencyKey }: { uuid?: string; idempotencyKey?: string } = {}): Promise<ContactRecord> {
    const key = validateIdempotencyKey({ idempotencyKey });
    if (!key.ok) throw new InteractionValidationError(key.errors);
    const result = newContactSchema.safeParse(input ?? {});
    if (!result.success) throw validationError(result.error);
    const { name, email, company, roleInCompany, department } = result.data;
    const row = { uuid, name: name ?? null, email: email ?? null, company: company ?? null, role_in_company: roleInCompany ?? null, department: department ?? null };
    const contact = toRecord(row);
    const request = JSON.stringify(result.data);
    return this.db.transaction(async (tx) => {
      if (key.value !== undefined) {
        const claimed = await tx.query('INSERT INTO created_contacts VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING RETURNING 1', [key.value, request, JSON.stringify(contact)]);
        if (claimed.rows.length === 0) {
          // A separate statement: under READ COMMITTED it sees a row another transaction committed meanwhile.
          const { rows } = await tx.query<{ request: string; contact: ContactRecord }>('SELECT request, contact FROM created_contacts WHERE idempotency_key = $1', [key.value]);
          if (rows[0]!.request !== request) throw new InteractionValidationError({ idempotencyKey: [IDEMPOTENCY_KEY_REUSED] });
          return rows[0]!.contact;
        }
      }
      await tx.query(
        `INSERT INTO contacts (uuid, name, email, company, role_in_company, department) VALUES ($1, $2, $3, $4, $5, $6)`,
        [row.uuid, row.name, row.email, row.company, row.role_in_company, row.department],
      );
      return contact;
    });
  }

  /**
   * Changes the given fields of a contact (a rename, say); null when there is none. Interactions keep
   * the snapshots they took: that a party's frozen name differs from the contact's is the point.
   */
  async update(uuid: string, input: unknown): Promise<ContactRecord | null> {
    const result = contactChangesSchema.safeParse(input);
    if (!result.success) throw validationError(result.error);
    const given = Object.entries(result.data).filter(([, value]) => value !== undefined);
    if (given.length === 0) return (await this.findContacts([uuid]))[0] ?? null;
    const assignments = given.map(([field], index) => `${COLUMNS[field as keyof typeof COLUMNS]} = $${index + 2}`);
    const { rows } = await this.db.query<ContactRow>(
      `UPDATE contacts SET ${assignments.join(', ')} WHERE uuid = $1 RETURNING *`,
      [uuid, ...given.map(([, value]) => value ?? null)],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }
}
