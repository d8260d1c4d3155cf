import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { uuidv7 } from '../domain/uuid';
import { InteractionNotFoundError } from '../domain/errors';
import { Interaction } from '../domain/interaction';
import { toStorableString } from '../domain/storable';
import {
  AttrName,
  normaliseUuid,
  NormalisedAttrs,
  NormalisedParty,
  unwrapAll,
  validateAttrs,
  validateExpectedVersion,
  validateFileUuids,
  validateIdempotencyKey,
  validateParties,
  validateTraceOptions,
  NormalisedTrace,
} from '../domain/validation';
import { fingerprintOf, Idempotency } from './idempotency';
import { InteractionWriter } from './interaction-writer';
import { CommandOptions, CreateInteractionCommand, DeleteInteractionCommand, UpdateInteractionCommand } from './messages';

/** The state a successful command leaves always holds the interaction. */
export function interactionOf(state: { interaction: Interaction | null }): Interaction {
  if (!state.interaction) throw new Error('invariant: a command succeeded without an interaction');
  return state.interaction;
}

/** The command's idempotency, if it has a key: the key with a fingerprint of everything else it was given. */
export function idempotencyOf(key: string | undefined, input: object): Idempotency | undefined {
  return key === undefined ? undefined : { key, fingerprint: fingerprintOf(input) };
}

/**
 * The attributes as a request's fingerprint takes them: normalised (one instant however it was written),
 * with a time defaulted to now taken as absent, so that a repeat later is the same request.
 */
function fingerprintedAttrs(attrs: Partial<NormalisedAttrs>, defaulted: ReadonlySet<AttrName>): object {
  return 'occurredAt' in attrs && defaulted.has('occurredAt') ? { ...attrs, occurredAt: null } : attrs;
}

/** How much of a malformed argument its error repeats: a huge one would travel whole into messages, spans and logs. */
const NAMED_AT_MOST = 100;

/** The uuid of the interaction a command acts on, in lower case; a malformed one names no interaction. */
export function targetOf(interactionUuid: unknown): string {
  const uuid = normaliseUuid(interactionUuid);
  if (uuid) return uuid;
  // Named as given where it is a string (cut short); anything else (an object whose toString throws) by its type.
  if (typeof interactionUuid !== 'string') throw new InteractionNotFoundError(`(${typeof interactionUuid})`);
  throw new InteractionNotFoundError(
    interactionUuid.length > NAMED_AT_MOST ? `${toStorableString(interactionUuid.slice(0, NAMED_AT_MOST))}…` : interactionUuid,
  );
}

/** The options that end in the events' metadata, and the idempotency key: validated with the input. */
export function validateOptions(options: CommandOptions | undefined) {
  return [validateTraceOptions(options), validateIdempotencyKey(options)] as const;
}

@CommandHandler(CreateInteractionCommand)
export class CreateInteractionHandler implements ICommandHandler<CreateInteractionCommand> {
  constructor(private readonly writer: InteractionWriter) {}

  async execute(command: CreateInteractionCommand): Promise<Interaction> {
    const now = new Date();
    const defaulted = new Set<AttrName>();
    const [attrs, parties, fileUuids, trace, key] = unwrapAll<
      [Partial<NormalisedAttrs>, NormalisedParty[], string[], NormalisedTrace, string | undefined]
    >(
      validateAttrs(command.attrs, 'create', now, defaulted),
      validateParties(command.parties),
      validateFileUuids(command.fileUuids),
      ...validateOptions(command.options),
    );
    const idempotency = idempotencyOf(key, {
      kind: 'create',
      attrs: fingerprintedAttrs(attrs, defaulted),
      parties,
      fileUuids,
      actorUuid: trace.actorUuid,
    });
    const state = await this.writer.execute(
      { kind: 'create', interactionUuid: uuidv7(), attrs: attrs as NormalisedAttrs, parties, fileUuids },
      trace,
      now,
      idempotency,
    );
    return interactionOf(state);
  }
}

@CommandHandler(UpdateInteractionCommand)
export class UpdateInteractionHandler implements ICommandHandler<UpdateInteractionCommand> {
  constructor(private readonly writer: InteractionWriter) {}

  async execute(command: UpdateInteractionCommand): Promise<Interaction> {
    const interactionUuid = targetOf(command.interactionUuid);
    const now = new Date();
    const defaulted = new Set<AttrName>();
    const [attrs, parties, expectedVersion, trace, key] = unwrapAll<
      [Partial<NormalisedAttrs>, NormalisedParty[] | null, number | undefined, NormalisedTrace, string | undefined]
    >(
      validateAttrs(command.attrs, 'update', now, defaulted),
      command.parties === null ? { ok: true, value: null } : validateParties(command.parties),
      validateExpectedVersion(command.options),
      ...validateOptions(command.options),
    );
    const idempotency = idempotencyOf(key, {
      kind: 'update',
      interactionUuid,
      attrs: fingerprintedAttrs(attrs, defaulted),
      parties,
      expectedVersion,
      actorUuid: trace.actorUuid,
    });
    const state = await this.writer.execute(
      { kind: 'update', interactionUuid, attrs, parties, expectedVersion },
      trace,
      now,
      idempotency,
    );
    return interactionOf(state);
  }
}

@CommandHandler(DeleteInteractionCommand)
export class DeleteInteractionHandler implements ICommandHandler<DeleteInteractionCommand> {
  constructor(private readonly writer: InteractionWriter) {}

  async execute(command: DeleteInteractionCommand): Promise<Interaction> {
    const interactionUuid = targetOf(command.interactionUuid);
    const [trace, key] = unwrapAll<[NormalisedTrace, string | undefined]>(...validateOptions(command.options));
    const idempotency = idempotencyOf(key, { kind: 'delete', interactionUuid, actorUuid: trace.actorUuid });
    const state = await this.writer.execute({ kind: 'delete', interactionUuid }, trace, new Date(), idempotency);
    return interactionOf(state);
  }
}

export const COMMAND_HANDLERS = [CreateInteractionHandler, UpdateInteractionHandler, DeleteInteractionHandler];
