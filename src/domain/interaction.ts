/** The vocabulary of docs/contract.md as plain types: what queries return and what commands take. */

export const INTERACTION_TYPES = ['call', 'email', 'meeting', 'note', 'other'] as const;
export type InteractionType = (typeof INTERACTION_TYPES)[number];

export type JsonObject = { [key: string]: unknown };

export type PartySnapshot =
  | {
      source: 'crm_contact';
      name: string;
      company?: string;
      roleInCompany?: string;
      department?: string;
      capturedAt: string;
    }
  | { source: 'staff'; name?: string; jobTitle?: string; employmentType?: string; capturedAt: string }
  | { source: 'free_text'; capturedAt: string }
  /** A party of a forgotten contact (forgetContact): its rawName reads ERASED. */
  | { source: 'erased'; capturedAt: string };

/** What every personal string of a forgotten contact reads as. */
export const ERASED = '[erased]';

/** The party as erasure leaves it: position, links and capture time kept, nothing of the person. */
export function erasedParty(party: Party): Party {
  return { ...party, rawName: ERASED, snapshot: { source: 'erased', capturedAt: party.snapshot.capturedAt } };
}

export interface Party {
  rawName: string;
  contactUuid: string | null;
  staffPersonUuid: string | null;
  position: number;
  snapshot: PartySnapshot;
}

export interface Interaction {
  uuid: string;
  contactUuid: string;
  interactionType: InteractionType;
  occurredAt: Date;
  subject: string | null;
  body: string | null;
  ownerUserUuid: string | null;
  metadata: JsonObject;
  fileUuids: string[];
  insertedAt: Date;
  updatedAt: Date;
  version: number;
  parties: Party[];
}

/** The attributes a caller may set; every field is optional at the type level and validated at run time. */
export interface InteractionAttrs {
  contactUuid?: string | null;
  interactionType?: InteractionType | '' | null;
  occurredAt?: Date | string | null;
  subject?: string | null;
  body?: string | null;
  ownerUserUuid?: string | null;
  metadata?: JsonObject | null;
}

export interface PartyInput {
  rawName?: string | null;
  contactUuid?: string | null;
  staffPersonUuid?: string | null;
}

/** What the host's directories return (docs/contract.md "Directories"). */
export interface ContactRecord {
  uuid: string;
  name?: string | null;
  email?: string | null;
  company?: string | null;
  roleInCompany?: string | null;
  department?: string | null;
}

export interface StaffRecord {
  uuid: string;
  name?: string | null;
  jobTitle?: string | null;
  employmentType?: string | null;
}

/** The subject and every party contact of the given states, without nulls or duplicates, first seen first. */
export function involvedContactUuids(
  ...states: ReadonlyArray<Pick<Interaction, 'contactUuid' | 'parties'> | null | undefined>
): string[] {
  const seen = new Set<string>();
  for (const state of states) {
    if (!state) continue;
    for (const uuid of [state.contactUuid, ...state.parties.map((p) => p.contactUuid)]) {
      if (uuid) seen.add(uuid);
    }
  }
  return [...seen];
}
