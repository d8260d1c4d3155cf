import { decide, evolve, initialState, InteractionCommand, InteractionState } from '../src/domain/decider';
import { InteractionEvent, streamNameOf } from '../src/domain/events';
import { ContactRecord, INTERACTION_TYPES, InteractionType, Party, StaffRecord } from '../src/domain/interaction';
import { NormalisedAttrs, NormalisedParty } from '../src/domain/validation';
import { EventMetadata } from '../src/ports/event-store';
import { int, pick, prng, Random, uuidv4, uuidv7At, weighted } from './random';
import { Scale } from './scales';

/**
 * The benchmark's data: contacts, staff and an event log of interactions, all from one seed. Every event
 * comes out of the module's own `decide` (so it is valid for the zod schemas and carries real frozen
 * snapshots) and is folded with `evolve`; the log is produced in global order as a stream of appends and
 * is never held in memory: an interaction's later updates and deletion wait in a small schedule keyed
 * by the step at which they happen.
 */

export interface World {
  contacts: ContactRecord[];
  /** The first contacts: a few very busy ones (a key account's main contact). */
  busy: ContactRecord[];
  staff: StaffRecord[];
  contactsByUuid: Map<string, ContactRecord>;
  staffByUuid: Map<string, StaffRecord>;
  owners: string[];
}

export interface GeneratedEvent {
  id: string;
  type: InteractionEvent['type'];
  data: InteractionEvent['data'];
  metadata: EventMetadata;
}

/** One atomic append: the events of one command on one stream, from revision `first` on. */
export interface GeneratedAppend {
  streamName: string;
  first: number;
  events: GeneratedEvent[];
}

export interface LogSummary {
  appends: number;
  events: number;
  created: number;
  updated: number;
  deleted: number;
}

const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Linus', 'Radia', 'Niklaus'];
const LAST_NAMES = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Torvalds', 'Perlman', 'Wirth'];
const COMPANIES = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell', 'Soylent', 'Vandelay'];
const ROLES = ['CEO', 'CTO', 'Buyer', 'Engineer', 'Account manager', 'Assistant'];
const DEPARTMENTS = ['Sales', 'Engineering', 'Finance', 'Operations', 'Legal'];
const FREE_TEXT = ['Visitor', 'Driver', 'Lawyer', 'Receptionist', 'Interpreter', 'Auditor', 'Courier'];
const SUBJECTS = ['Renewal', 'Kick-off', 'Quarterly review', 'Support escalation', 'Pricing', 'Contract', 'Onboarding', 'Follow-up'];
const WORDS =
  'we talked about the renewal pricing and the next steps for the rollout they asked for a revised quote and a demo for the finance team before the end of the quarter'.split(
    ' ',
  );
/** 0..6 parties, about 3 on average. */
const PARTY_COUNT_WEIGHTS = [8, 12, 18, 25, 17, 12, 8];

const START_MS = Date.UTC(2024, 0, 1);
const SPAN_MS = 2 * 365 * 24 * 3600 * 1000;

export function makeWorld(scale: Scale, seed: number): World {
  const random = prng(seed ^ 0x5eed);
  const contacts: ContactRecord[] = [];
  for (let i = 0; i < scale.contacts; i++) {
    const name = `${pick(random, FIRST_NAMES)} ${pick(random, LAST_NAMES)} ${i}`;
    const withCompany = random() < 0.6;
    const contact: ContactRecord = { uuid: uuidv4(random) };
    if (random() < 0.9) contact.name = name;
    else contact.email = `contact${i}@example.com`;
    if (withCompany) {
      contact.company = pick(random, COMPANIES);
      if (random() < 0.7) contact.roleInCompany = pick(random, ROLES);
      if (random() < 0.5) contact.department = pick(random, DEPARTMENTS);
    }
    contacts.push(contact);
  }
  const staff: StaffRecord[] = Array.from({ length: scale.staff }, (_, i) => ({
    uuid: uuidv4(random),
    name: `Staff ${i}`,
    ...(random() < 0.7 && { jobTitle: pick(random, ROLES) }),
    ...(random() < 0.5 && { employmentType: random() < 0.8 ? 'full-time' : 'contractor' }),
  }));
  return {
    contacts,
    busy: contacts.slice(0, scale.busyContacts),
    staff,
    contactsByUuid: new Map(contacts.map((c) => [c.uuid, c])),
    staffByUuid: new Map(staff.map((s) => [s.uuid, s])),
    owners: Array.from({ length: 50 }, () => uuidv4(random)),
  };
}

/** A contact: a busy one with probability busyShare, else any of the others. */
export function pickContact(random: Random, world: World, scale: Scale): ContactRecord {
  if (world.busy.length > 0 && random() < scale.busyShare) return pick(random, world.busy);
  return world.contacts[world.busy.length + int(random, world.contacts.length - world.busy.length)]!;
}

function text(random: Random, maxWords: number): string {
  const n = 1 + int(random, maxWords);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(pick(random, WORDS));
  return out.join(' ');
}

export function partyInputs(random: Random, world: World, scale: Scale, count: number): NormalisedParty[] {
  return Array.from({ length: count }, (_, inputIndex) => {
    const kind = random();
    if (kind < 0.6) {
      const contact = pickContact(random, world, scale);
      return { rawName: contact.name ?? contact.email ?? 'Unnamed', contactUuid: contact.uuid, staffPersonUuid: null, inputIndex };
    }
    if (kind < 0.75) {
      const person = pick(random, world.staff);
      return { rawName: person.name ?? 'Staff', contactUuid: null, staffPersonUuid: person.uuid, inputIndex };
    }
    return { rawName: pick(random, FREE_TEXT), contactUuid: null, staffPersonUuid: null, inputIndex };
  });
}

export function createAttrs(random: Random, world: World, scale: Scale, nowMs: number): NormalisedAttrs {
  const occurred = nowMs - int(random, 30 * 24 * 3600) * 1000;
  return {
    contactUuid: pickContact(random, world, scale).uuid,
    interactionType: pick(random, INTERACTION_TYPES) as InteractionType,
    occurredAt: new Date(Math.floor(occurred / 1000) * 1000),
    subject: random() < 0.9 ? pick(random, SUBJECTS) : null,
    body: random() < 0.8 ? text(random, 60) : null,
    ownerUserUuid: random() < 0.5 ? pick(random, world.owners) : null,
    metadata: random() < 0.5 ? {} : { source: 'bench', channel: pick(random, ['phone', 'mail', 'web']) },
  };
}

/** A plausible edit of an existing interaction: attributes, parties, or both. */
function updateCommand(random: Random, world: World, scale: Scale, state: InteractionState, nowMs: number): InteractionCommand {
  const current = state.interaction!;
  const roll = random();
  const attrs: Partial<NormalisedAttrs> = {};
  let parties: NormalisedParty[] | null = null;
  if (roll < 0.45) {
    attrs.subject = `${pick(random, SUBJECTS)} (edited)`;
    if (random() < 0.5) attrs.body = text(random, 60);
  } else if (roll < 0.6) {
    attrs.occurredAt = new Date(current.occurredAt.getTime() - int(random, 7 * 24 * 3600) * 1000);
  } else if (roll < 0.7) {
    attrs.contactUuid = pickContact(random, world, scale).uuid;
  } else {
    // Keep some parties (their snapshots stay frozen), drop one, add one.
    const kept = current.parties.filter(() => random() < 0.75).map((p: Party) => ({
      rawName: p.rawName,
      contactUuid: p.contactUuid,
      staffPersonUuid: p.staffPersonUuid,
    }));
    const added = partyInputs(random, world, scale, kept.length < 6 && random() < 0.7 ? 1 : 0);
    parties = [...kept, ...added].slice(0, 6).map((p, inputIndex) => ({ ...p, inputIndex }));
    if (random() < 0.3) attrs.body = text(random, 60);
  }
  return { kind: 'update', interactionUuid: current.uuid, attrs, parties };
}

/**
 * The whole log, in global order. Interaction `i` is created at step `i`; its updates (about 0.43 per
 * interaction) and its deletion (5%) come later, up to ~5% of the log after it.
 */
export function* generateLog(world: World, scale: Scale, seed: number, summary?: LogSummary): Generator<GeneratedAppend> {
  const random = prng(seed);
  const stepMs = Math.floor(SPAN_MS / scale.interactions);
  const window = Math.max(10, Math.floor(scale.interactions * 0.05));
  const schedule = new Map<number, GeneratedAppend[]>();
  const ctxOf = (nowMs: number) => ({ now: new Date(nowMs), contacts: world.contactsByUuid, staff: world.staffByUuid });
  const count = summary ?? { appends: 0, events: 0, created: 0, updated: 0, deleted: 0 };

  const later = (step: number, append: GeneratedAppend) => {
    const queue = schedule.get(step);
    if (queue) queue.push(append);
    else schedule.set(step, [append]);
  };
  const emit = function* (appends: GeneratedAppend[] | undefined) {
    if (!appends) return;
    for (const append of appends) {
      count.appends++;
      count.events += append.events.length;
      yield append;
    }
  };

  let lastStep = scale.interactions;
  for (let step = 0; step < scale.interactions || step <= lastStep; step++) {
    yield* emit(schedule.get(step));
    schedule.delete(step);
    if (step >= scale.interactions) continue;

    // The interaction's whole life is decided now, its later commands wait in the schedule.
    const createdMs = START_MS + step * stepMs;
    const interactionUuid = uuidv7At(random, createdMs);
    const streamName = streamNameOf(interactionUuid);
    let state = initialState;
    const run = (command: InteractionCommand, nowMs: number): GeneratedAppend | null => {
      const events = decide(command, state, ctxOf(nowMs));
      if (events.length === 0) return null;
      const recordedAt = new Date(nowMs).toISOString();
      const metadata: EventMetadata = {
        actorUuid: random() < 0.8 ? pick(random, world.owners) : null,
        correlationId: uuidv7At(random, nowMs),
        causationId: null,
        recordedAt,
      };
      const first = state.version + 1;
      events.forEach((event, k) => {
        state = evolve(state, { ...event, revision: first + k, recordedAt: new Date(recordedAt) });
      });
      return { streamName, first, events: events.map((e) => ({ id: uuidv7At(random, nowMs), type: e.type, data: e.data, metadata })) };
    };

    const partyCount = weighted(random, PARTY_COUNT_WEIGHTS);
    const created = run(
      {
        kind: 'create',
        interactionUuid,
        attrs: createAttrs(random, world, scale, createdMs),
        parties: partyInputs(random, world, scale, partyCount),
        fileUuids: random() < 0.1 ? [uuidv7At(random, createdMs)] : [],
      },
      createdMs,
    )!;
    count.created++;
    yield* emit([created]);

    let at = step;
    const updates = weighted(random, [70, 20, 7, 3]);
    for (let u = 0; u < updates; u++) {
      at += 1 + int(random, Math.max(1, Math.floor(window / 4)));
      const nowMs = START_MS + at * stepMs + int(random, stepMs);
      const append = run(updateCommand(random, world, scale, state, nowMs), nowMs);
      if (append) {
        later(at, append);
        count.updated++;
      }
    }
    if (random() < 0.05) {
      at += 1 + int(random, window);
      const nowMs = START_MS + at * stepMs + int(random, stepMs);
      later(at, run({ kind: 'delete', interactionUuid }, nowMs)!);
      count.deleted++;
    }
    lastStep = Math.max(lastStep, at);
  }
  return count;
}
