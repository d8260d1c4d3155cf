import { uuidv7 } from 'uuidv7';
import { parseEvent } from '../../src/domain/events';
import { CONTENT_TAG, ErasureKey, keyIdsOf, newKeyMaterial, openEvent, partyTag, partyTagsOf, sealEvent, tagsOf } from '../../src/adapters/erasure/sealing';

/** The pure part of crypto-shredding: which fields are sealed, how they open, and how they read erased. */
describe('sealing events', () => {
  const interactionUuid = uuidv7();
  const contactUuid = uuidv7();
  const keys = new Map<string, ErasureKey>();
  const keyOf = (tag: string) => {
    if (!keys.has(tag)) keys.set(tag, { keyId: uuidv7(), key: newKeyMaterial() });
    return keys.get(tag)!;
  };
  const byId = () => new Map([...keys.values()].map((key) => [key.keyId, key]));
  const capturedAt = '2026-12-01T08:00:00Z';
  const logged = {
    schemaVersion: 1,
    interactionUuid,
    contactUuid,
    interactionType: 'call',
    occurredAt: capturedAt,
    subject: 'Quince grafts',
    body: 'Dana called',
    ownerUserUuid: null,
    metadata: { ref: 'x-1' },
    fileUuids: [],
  };
  const parties = {
    schemaVersion: 1,
    interactionUuid,
    parties: [
      { rawName: 'Dana W.', contactUuid, staffPersonUuid: null, position: 0, snapshot: { source: 'crm_contact', name: 'Dana Whitfield', company: 'Botanicals', capturedAt } },
      { rawName: 'Visitor', contactUuid: null, staffPersonUuid: null, position: 1, snapshot: { source: 'free_text', capturedAt } },
    ],
  };
  const seal = (type: string, data: Record<string, unknown>) => sealEvent(type, data, partyTagsOf(interactionUuid), { keyOf }, () => 'Visitor');

  beforeEach(() => keys.clear());

  it('keeps nothing personal in clear, and opens back to the very event', () => {
    for (const [type, data] of [
      ['InteractionLogged', logged],
      ['PartiesRebuilt', parties],
      ['InteractionUpdated', { schemaVersion: 1, interactionUuid, changes: { body: 'Dana again', occurredAt: capturedAt } }],
      ['PartyLinked', { schemaVersion: 1, interactionUuid, position: 1, contactUuid, staffPersonUuid: null, snapshot: parties.parties[0]!.snapshot }],
    ] as const) {
      const sealed = seal(type, data);
      expect(JSON.stringify(sealed)).not.toMatch(/Dana|Quince|Botanicals|Visitor|x-1/);
      expect(keyIdsOf(sealed).length).toBeGreaterThan(0);
      expect(openEvent(type, sealed, byId())).toEqual(data);
      expect(() => parseEvent(type, openEvent(type, sealed, byId()))).not.toThrow();
    }
    expect(tagsOf('PartiesRebuilt', parties, partyTagsOf(interactionUuid), () => null)).toEqual([partyTag(interactionUuid, 'Dana W.'), partyTag(interactionUuid, 'Visitor')]);
    expect(tagsOf('InteractionUpdated', { changes: { occurredAt: capturedAt } }, partyTagsOf(interactionUuid), () => null)).toEqual([]);
  });

  it('reads erased where the key is gone, and the erased event is valid', () => {
    const sealedLogged = seal('InteractionLogged', logged);
    const sealedParties = seal('PartiesRebuilt', parties);
    const remaining = byId();
    remaining.delete(keys.get(CONTENT_TAG)!.keyId);
    remaining.delete(keys.get(partyTag(interactionUuid, 'Dana W.'))!.keyId);
    expect(parseEvent('InteractionLogged', openEvent('InteractionLogged', sealedLogged, remaining)).data).toMatchObject({
      subject: '[erased]',
      body: '[erased]',
      metadata: {},
      contactUuid,
    });
    const opened = parseEvent('PartiesRebuilt', openEvent('PartiesRebuilt', sealedParties, remaining)).data as typeof parties;
    expect(opened.parties).toEqual([
      { rawName: '[erased]', contactUuid, staffPersonUuid: null, position: 0, snapshot: { source: 'erased', capturedAt } },
      parties.parties[1],
    ]);
  });

  it('keeps a null subject or body in clear: erased, it still reads null (only what was written reads "[erased]")', () => {
    const noBody = { ...logged, body: null };
    const sealed = seal('InteractionLogged', noBody) as Record<string, unknown> & { sealed: { fields: string[] } };
    expect(sealed).toMatchObject({ body: null, sealed: { fields: ['subject', 'metadata'] } });
    expect(openEvent('InteractionLogged', sealed, byId())).toEqual(noBody);
    expect(parseEvent('InteractionLogged', openEvent('InteractionLogged', sealed, new Map())).data).toMatchObject({ subject: '[erased]', body: null, metadata: {} });
    const cleared = { schemaVersion: 1, interactionUuid, changes: { subject: null, body: 'Dana again' } };
    expect(parseEvent('InteractionUpdated', openEvent('InteractionUpdated', seal('InteractionUpdated', cleared), new Map())).data).toMatchObject({
      changes: { subject: null, body: '[erased]' },
    });
  });

  it('leaves a box that does not open sealed, so the event is refused, never misread', () => {
    const sealed = seal('InteractionLogged', logged) as { sealed: { box: string } };
    const box = Buffer.from(sealed.sealed.box, 'base64');
    box.writeUInt8(box.readUInt8(box.length - 1) ^ 1, box.length - 1);
    const tampered = { ...sealed, sealed: { ...sealed.sealed, box: box.toString('base64') } };
    expect(() => parseEvent('InteractionLogged', openEvent('InteractionLogged', tampered, byId()))).toThrow(/sealed/);
  });

  it('seals nothing where there is nothing personal (no subject, body or metadata; an erased party)', () => {
    const empty = { ...logged, subject: null, body: null, metadata: {} };
    expect(seal('InteractionLogged', empty)).toEqual(empty);
    const erased = { schemaVersion: 1, interactionUuid, parties: [{ ...parties.parties[1], rawName: '[erased]', snapshot: { source: 'erased', capturedAt } }] };
    expect(seal('PartiesRebuilt', erased)).toEqual(erased);
  });

  it('stores the layout the log has always held: field order, what the box names, the box as IV, body, tag', () => {
    const sealedLogged = seal('InteractionLogged', logged) as Record<string, unknown> & { sealed: { key: string; fields: string[]; box: string } };
    expect(Object.keys(sealedLogged)).toEqual(['schemaVersion', 'interactionUuid', 'contactUuid', 'interactionType', 'occurredAt', 'ownerUserUuid', 'fileUuids', 'sealed']);
    expect(Object.keys(sealedLogged.sealed)).toEqual(['key', 'fields', 'box']);
    expect(sealedLogged.sealed).toMatchObject({ key: keys.get(CONTENT_TAG)!.keyId, fields: ['subject', 'body', 'metadata'] });
    // 12 bytes of IV, the AES-GCM encryption of the fields' JSON (as long as it), 16 bytes of tag.
    const content = JSON.stringify({ subject: logged.subject, body: logged.body, metadata: logged.metadata });
    expect(Buffer.from(sealedLogged.sealed.box, 'base64')).toHaveLength(12 + Buffer.byteLength(content) + 16);
    const sealedParties = seal('PartiesRebuilt', parties) as { parties: Array<Record<string, unknown> & { sealed: { fields: string[] } }> };
    for (const party of sealedParties.parties) {
      expect(Object.keys(party)).toEqual(['contactUuid', 'staffPersonUuid', 'position', 'capturedAt', 'sealed']);
      expect(party.sealed.fields).toEqual(['rawName', 'snapshot']);
    }
  });
});
