import { auditRows, formatTable } from '../../src/cli/audit';
import { RecordedEvent } from '../../src/ports/event-store';

/** The `audit` command's table, from a stream as history() returns it (no database needed). */
const INTERACTION = '0190d8a2-5a7e-7cc1-8f3e-1a2b3c4d5e6f';
const CONTACT = '0190d8a2-5a7e-7cc1-8f3e-aaaaaaaaaaaa';

function recorded(revision: number, type: string, data: unknown): RecordedEvent {
  return {
    id: `0190d8a2-5a7e-7cc1-8f3e-${String(revision).padStart(12, '0')}`,
    streamName: `interaction-${INTERACTION}`,
    revision,
    position: { commit: BigInt(revision + 1), prepare: BigInt(revision + 1) },
    type,
    data,
    metadata: { actorUuid: null, correlationId: 'c', causationId: null, recordedAt: `2026-04-01T10:00:0${Math.min(revision, 9)}.000Z` },
  };
}

const logged = recorded(0, 'InteractionLogged', {
  schemaVersion: 1,
  interactionUuid: INTERACTION,
  contactUuid: CONTACT,
  interactionType: 'call',
  occurredAt: '2026-04-01T09:00:00Z',
  subject: 'First',
  body: null,
  ownerUserUuid: null,
  metadata: {},
  fileUuids: [],
});
const renamed = (revision: number, subject: string) =>
  recorded(revision, 'InteractionUpdated', { schemaVersion: 1, interactionUuid: INTERACTION, changes: { subject } });

describe('audit table', () => {
  it('shows an event this version cannot read (the parked one) as a row, and the rows around it', () => {
    const archived = recorded(2, 'InteractionArchived', { schemaVersion: 1, interactionUuid: INTERACTION });
    const rows = auditRows([logged, renamed(1, 'Second'), archived, renamed(3, 'Third')]);
    expect(rows.map((row) => [row.revision, row.type])).toEqual([
      [0, 'InteractionLogged'],
      [1, 'InteractionUpdated'],
      [2, 'InteractionArchived'],
      [3, 'InteractionUpdated'],
    ]);
    expect(rows[2]!.changes).toBe('unreadable, not applied: Invalid InteractionArchived event: unknown event type');
    expect(rows[3]!.changes).toBe('subject: "Second" → "Third"');
  });

  it('cuts a long value between characters, never within an emoji', () => {
    const emoji = { ...logged, data: { ...(logged.data as object), subject: `a${'😀'.repeat(30)}` } };
    const [row] = auditRows([emoji]);
    expect(row!.changes).toContain(`subject: "a${'😀'.repeat(17)}...;`);
    expect(row!.changes).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  });

  it('formats a stream longer than a call may have arguments (~125,000 rows)', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => ({ revision: i, changes: i === 150_000 ? 'the widest cell' : 'x' }));
    const lines = formatTable(rows, ['revision', 'changes']).split('\n');
    expect(lines).toHaveLength(200_002);
    expect(lines[1]).toBe(`${'-'.repeat(8)}  ${'-'.repeat('the widest cell'.length)}`);
  });
});
