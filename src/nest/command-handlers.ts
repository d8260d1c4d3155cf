import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { uuidv7 } from 'uuidv7';
import { InteractionNotFoundError } from '../domain/errors';
import { Interaction } from '../domain/interaction';
import {
  normaliseUuid,
  NormalisedAttrs,
  NormalisedParty,
  unwrapAll,
  validateAttrs,
  validateExpectedVersion,
  validateFileUuids,
  validateIdempotencyKey,
  validateParties,
} from '../domain/validation';
import { fingerprintOf, Idempotency } from './idempotency';
import { InteractionWriter } from './interaction-writer';
import { CommandOptions, CreateInteractionCommand, DeleteInteractionCommand, UpdateInteractionCommand } from './messages';

/** The state a successful command leaves always holds the interaction. */
function interactionOf(state: { interaction: Interaction | null }): Interaction {
  if (!state.interaction) throw new Error('invariant: a command succeeded without an interaction');
  return state.interaction;
}

/** The command's idempotency, if it has a key: the key with a fingerprint of everything else it was given. */
function idempotencyOf(key: string | undefined, input: object): Idempotency | undefined {
  return key === undefined ? undefined : { key, fingerprint: fingerprintOf(input) };
}

/** The uuid of the interaction a command acts on, in lower case; a malformed one names no interaction. */
function targetOf(interactionUuid: unknown): string {
  const uuid = normaliseUuid(interactionUuid);
  if (!uuid) throw new InteractionNotFoundError(String(interactionUuid));
  return uuid;
}

/** What a repeat must match besides the key: the options that change the outcome. */
const optionsInput = ({ actorUuid }: CommandOptions) => ({ actorUuid: actorUuid ?? null });

@CommandHandler(CreateInteractionCommand)
export class CreateInteractionHandler implements ICommandHandler<CreateInteractionCommand> {
  constructor(private readonly writer: InteractionWriter) {}

  async execute(command: CreateInteractionCommand): Promise<Interaction> {
    const now = new Date();
    const [attrs, parties, fileUuids, key] = unwrapAll<
      [Partial<NormalisedAttrs>, NormalisedParty[], string[], string | undefined]
    >(
      validateAttrs(command.attrs, 'create', now),
      validateParties(command.parties),
      validateFileUuids(command.fileUuids),
      validateIdempotencyKey(command.options.idempotencyKey),
    );
    const idempotency = idempotencyOf(key, {
      kind: 'create',
      // Normalised, but with the time as given: a repeat without occurredAt is the same request later.
      attrs: { ...attrs, occurredAt: command.attrs?.occurredAt ?? null },
      parties,
      fileUuids,
      ...optionsInput(command.options),
    });
    const state = await this.writer.execute(
      { kind: 'create', interactionUuid: uuidv7(), attrs: attrs as NormalisedAttrs, parties, fileUuids },
      command.options,
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
    const [attrs, parties, expectedVersion, key] = unwrapAll<
      [Partial<NormalisedAttrs>, NormalisedParty[] | null, number | undefined, string | undefined]
    >(
      validateAttrs(command.attrs, 'update', now),
      command.parties === null ? { ok: true, value: null } : validateParties(command.parties),
      validateExpectedVersion(command.options.expectedVersion),
      validateIdempotencyKey(command.options.idempotencyKey),
    );
    const given = (command.attrs ?? {}) as Record<string, unknown>;
    const idempotency = idempotencyOf(key, {
      kind: 'update',
      interactionUuid,
      attrs: { ...attrs, ...('occurredAt' in attrs && { occurredAt: given.occurredAt ?? null }) },
      parties,
      expectedVersion,
      ...optionsInput(command.options),
    });
    const state = await this.writer.execute(
      { kind: 'update', interactionUuid, attrs, parties, expectedVersion },
      command.options,
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
    const [key] = unwrapAll<[string | undefined]>(validateIdempotencyKey(command.options.idempotencyKey));
    const idempotency = idempotencyOf(key, { kind: 'delete', interactionUuid, ...optionsInput(command.options) });
    const state = await this.writer.execute({ kind: 'delete', interactionUuid }, command.options, new Date(), idempotency);
    return interactionOf(state);
  }
}

export const COMMAND_HANDLERS = [CreateInteractionHandler, UpdateInteractionHandler, DeleteInteractionHandler];
