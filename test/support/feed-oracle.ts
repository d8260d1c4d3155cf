/**
 * What a feed filter lets through, said plainly: the oracle the feed suites (service and HTTP) check the
 * module against. Items are Interactions or their JSON (dates as ISO strings).
 */
export interface OracleItem {
  uuid: string;
  contactUuid: string;
  interactionType: string;
  occurredAt: Date | string;
  insertedAt: Date | string;
  ownerUserUuid: string | null;
  subject: string | null;
  body: string | null;
  parties: ReadonlyArray<{ contactUuid: string | null }>;
}

export interface OracleFilter {
  types?: readonly string[];
  from?: Date | string;
  to?: Date | string;
  owner?: string;
  search?: string;
}

const fold = (text: string) => text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
const wordsOf = (text: string | null) => (text ? fold(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean) : []);
const time = (value: Date | string) => new Date(value).getTime();

export function passes(i: OracleItem, f: OracleFilter): boolean {
  if (f.types && !f.types.includes(i.interactionType)) return false;
  if (f.from && time(i.occurredAt) < time(f.from)) return false;
  if (f.to && time(i.occurredAt) >= time(f.to)) return false;
  if (f.owner && i.ownerUserUuid !== f.owner.toLowerCase()) return false;
  if (f.search) {
    const words = [...wordsOf(i.subject), ...wordsOf(i.body)];
    if (!wordsOf(f.search).every((term) => words.some((w) => w.startsWith(term)))) return false;
  }
  return true;
}

export const involves = (i: OracleItem, contact: string) => i.contactUuid === contact || i.parties.some((p) => p.contactUuid === contact);

export const newestFirst = (a: OracleItem, b: OracleItem) =>
  time(b.occurredAt) - time(a.occurredAt) || time(b.insertedAt) - time(a.insertedAt) || (a.uuid < b.uuid ? 1 : -1);
