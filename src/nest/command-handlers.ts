import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { uuidv7 } from 'uuidv7';
import { InteractionNotFoundError } from '../domain/errors';
import { Interaction } from '../domain/interaction';
import {
  isUuid,
  NormalisedAttrs,
  NormalisedParty,
  unwrapAll,
  validateAttrs,
  validateExpectedVersion,
  validateFileUuids,
  validateParties,
} from '../domain/validation';
import { InteractionWriter } from './interaction-writer';
import { CreateInteractionCommand, DeleteInteractionCommand, UpdateInteractionCommand } from './messages';

/** The state a successful command leaves always holds the interaction. */
function interactionOf(state: { interaction: Interaction | null }): Interaction {
  if (!state.interaction) throw new Error('invariant: a command succeeded without an interaction');
  return state.interaction;
}

@CommandHandler(CreateInteractionCommand)
export class CreateInteractionHandler implements ICommandHandler<CreateInteractionCommand> {
  constructor(private readonly writer: InteractionWriter) {}

  async execute(command: CreateInteractionCommand): Promise<Interaction> {
    const now = new Date();
    const [attrs, parties, fileUuids] = unwrapAll<[Partial<NormalisedAttrs>, NormalisedParty[], string[]]>(
      validateAttrs(command.attrs, 'create', now),
      validateParties(command.parties),
      validateFileUuids(command.fileUuids),
    );
    const state = await this.writer.execute(
      { kind: 'create', interactionUuid: uuidv7(), attrs: attrs as NormalisedAttrs, parties, fileUuids },
      command.options,
      now,
    );
    return interactionOf(state);
  }
}

@CommandHandler(UpdateInteractionCommand)
export class UpdateInteractionHandler implements ICommandHandler<UpdateInteractionCommand> {
  constructor(private readonly writer: InteractionWriter) {}

  async execute(command: UpdateInteractionCommand): Promise<Interaction> {
    const { interactionUuid } = command;
    if (!isUuid(interactionUuid)) throw new InteractionNotFoundError(String(interactionUuid));
    const now = new Date();
    const [attrs, parties, expectedVersion] = unwrapAll<
      [Partial<NormalisedAttrs>, NormalisedParty[] | null, number | undefined]
    >(
      validateAttrs(command.attrs, 'update', now),
      command.parties === null ? { ok: true, value: null } : validateParties(command.parties),
      validateExpectedVersion(command.options.expectedVersion),
    );
    const state = await this.writer.execute(
      { kind: 'update', interactionUuid, attrs, parties, expectedVersion },
      command.options,
      now,
    );
    return interactionOf(state);
  }
}

@CommandHandler(DeleteInteractionCommand)
export class DeleteInteractionHandler implements ICommandHandler<DeleteInteractionCommand> {
  constructor(private readonly writer: InteractionWriter) {}

  async execute(command: DeleteInteractionCommand): Promise<Interaction> {
    const { interactionUuid } = command;
    if (!isUuid(interactionUuid)) throw new InteractionNotFoundError(String(interactionUuid));
    const state = await this.writer.execute({ kind: 'delete', interactionUuid }, command.options, new Date());
    return interactionOf(state);
  }
}

export const COMMAND_HANDLERS = [CreateInteractionHandler, UpdateInteractionHandler, DeleteInteractionHandler];
