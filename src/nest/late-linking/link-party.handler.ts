import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Interaction } from '../../domain/interaction';
import { LinkRef, validateLinkRef, validatePosition } from '../../domain/late-linking';
import { NormalisedTrace, unwrapAll } from '../../domain/validation';
import { idempotencyOf, interactionOf, targetOf, validateOptions } from '../command-handlers';
import { InteractionWriter } from '../interaction-writer';
import { LinkPartyCommand } from '../messages';

/** linkParty: the same read–decide–append as every command; the decider takes the snapshot. */
@CommandHandler(LinkPartyCommand)
export class LinkPartyHandler implements ICommandHandler<LinkPartyCommand> {
  constructor(private readonly writer: InteractionWriter) {}

  async execute(command: LinkPartyCommand): Promise<Interaction> {
    const interactionUuid = targetOf(command.interactionUuid);
    const [position, ref, trace, key] = unwrapAll<[number, LinkRef, NormalisedTrace, string | undefined]>(
      validatePosition(command.position),
      validateLinkRef(command.ref),
      ...validateOptions(command.options),
    );
    const idempotency = idempotencyOf(key, { kind: 'link', interactionUuid, position, ...ref, actorUuid: trace.actorUuid });
    const state = await this.writer.execute({ kind: 'link', interactionUuid, position, ...ref }, trace, new Date(), idempotency);
    return interactionOf(state);
  }
}
