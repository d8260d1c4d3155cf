import { evolve, initialState, InteractionState } from '../domain/decider';
import { Interaction, Party } from '../domain/interaction';
import { RecordedEvent } from '../ports/event-store';
import { toDomainEvent } from '../nest/interaction-writer';
import { InteractionUnreadableError } from '../domain/errors';

export type AuditRow = {
  revision: number;
  time: string;
  type: string;
  actor: string;
  changes: string;
};

const SHOWN_ATTRS = ['contactUuid', 'interactionType', 'occurredAt', 'subject', 'body', 'ownerUserUuid', 'metadata'] as const;

function show(value: unknown): string {
  if (value instanceof Date) return value.toISOString().replace('.000Z', 'Z');
  const text = JSON.stringify(value) ?? 'null';
  if (text.length <= 40) return text;
  // Never between the halves of a pair (an emoji): half of one is no character, and printed as U+FFFD.
  const cut = /[\ud800-\udbff]/.test(text.charAt(36)) ? 36 : 37;
  return `${text.slice(0, cut)}...`;
}

const partyNames = (parties: readonly Party[]) => `[${parties.map((p) => p.rawName).join(', ')}]`;

/** What one event changed, as `field: old → new`, from the states before and after it. */
function describeChange(before: Interaction | null, after: InteractionState, type: string, reason?: string): string {
  const now = after.interaction;
  if (type === 'InteractionDeleted') return reason ? `deleted (${reason})` : 'deleted';
  if (!now) return '';
  if (type === 'PartiesUnlinked' || type === 'ContactRepointed') return describeRelink(before, now, reason);
  if (type === 'PartyLinked') return describeLink(before, now);
  if (type === 'PartiesRebuilt') return `parties: ${partyNames(before?.parties ?? [])} → ${partyNames(now.parties)}`;
  return SHOWN_ATTRS.filter((name) => show(before?.[name]) !== show(now[name]))
    .map((name) => (before ? `${name}: ${show(before[name])} → ${show(now[name])}` : `${name}: ${show(now[name])}`))
    .join('; ');
}

// --- Contacts' lifecycle: why a link changed, and which

/** The lifecycle reason an event records (`contact_deleted`, `contacts_merged`, …), if any. */
function reasonOf(event: RecordedEvent): string | undefined {
  const data = event.data as { reason?: unknown } | null;
  if (event.type === 'ContactRepointed') return 'contacts_merged';
  return typeof data?.reason === 'string' ? data.reason : undefined;
}

/** `contact_deleted: parties [Grace → unlinked]; contactUuid: "…" → "…"`: the links that changed. */
function describeRelink(before: Interaction | null, now: Interaction, reason: string | undefined): string {
  const links = (p: Party) => p.contactUuid ?? p.staffPersonUuid ?? 'unlinked';
  const changed = now.parties.filter((p) => links(p) !== links(before?.parties.find((b) => b.position === p.position) ?? p));
  const parts = changed.length > 0 ? [`parties [${changed.map((p) => `${p.rawName} → ${links(p)}`).join(', ')}]`] : [];
  if (before && before.contactUuid !== now.contactUuid) parts.push(`contactUuid: ${show(before.contactUuid)} → ${show(now.contactUuid)}`);
  return `${reason ?? 'relinked'}: ${parts.join('; ')}`;
}
// --- end of contacts' lifecycle

// --- Late linking
/** `party 1 "Dana from Acme" linked to contact 0192… (snapshot: Dana Scott)`: the party that got its link. */
function describeLink(before: Interaction | null, now: Interaction): string {
  const changed = now.parties.find((p) => {
    const old = before?.parties.find((b) => b.position === p.position);
    return !old || old.contactUuid !== p.contactUuid || old.staffPersonUuid !== p.staffPersonUuid;
  });
  if (!changed) return '';
  const target = changed.contactUuid ? `contact ${changed.contactUuid}` : `staff ${changed.staffPersonUuid}`;
  const name = 'name' in changed.snapshot && changed.snapshot.name ? ` (snapshot: ${changed.snapshot.name})` : '';
  return `party ${changed.position} ${show(changed.rawName)} linked to ${target}${name}`;
}
// --- end of late linking

/** The stream as an auditor reads it: one row per event, each with a short diff of what it changed. */
export function auditRows(events: readonly RecordedEvent[]): AuditRow[] {
  let state = initialState;
  return events.map((event) => {
    const before = state.interaction;
    const row = { revision: event.revision, time: String(event.metadata?.recordedAt ?? '-'), type: event.type, actor: event.metadata?.actorUuid ?? '-' };
    try {
      state = evolve(state, toDomainEvent(event));
    } catch (error) {
      // An event this version cannot read (the one the projection parked) is shown as such, and the rows after
      // it still show their changes: one bad event must not hide the whole stream from its auditor.
      if (!(error instanceof InteractionUnreadableError)) throw error;
      return { ...row, changes: `unreadable, not applied: ${error.reason.replace(/\s+/g, ' ')}` };
    }
    return { ...row, changes: describeChange(before, state, event.type, reasonOf(event)) };
  });
}

/**
 * A cell as text a terminal shows as it is: control characters (escape sequences, line breaks) and bidi
 * overrides in logged names and texts are written as `\uXXXX`, so no value can clear the screen, recolour
 * or reorder the table, or forge a row.
 */
const cellText = (value: string | number) =>
  String(value).replace(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu, (ch) => `\\u${ch.codePointAt(0)!.toString(16).padStart(4, '0')}`);

/** Fixed-width text table, for terminals and logs alike. */
export function formatTable(rows: readonly Record<string, string | number>[], columns: readonly string[]): string {
  const cells = rows.map((row) => columns.map((column) => cellText(row[column]!)));
  // A reduce, not Math.max(...): spreading a long stream's rows as arguments overflows the stack.
  const widths = columns.map((column, i) => cells.reduce((width, row) => Math.max(width, row[i]!.length), column.length));
  const line = (texts: string[]) => texts.map((text, i) => text.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line([...columns]), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
