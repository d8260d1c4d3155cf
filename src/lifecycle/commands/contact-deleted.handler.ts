import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { NormalisedTrace, unwrapAll, validateIdempotencyKey, validateTraceOptions } from '../../domain/validation';
import { ContactDeletedCommand, LifecycleResult } from '../../nest/messages';
import { LifecycleDecisions, validateUuidArgument } from '../decisions';

@CommandHandler(ContactDeletedCommand)
export class ContactDeletedHandler implements ICommandHandler<ContactDeletedCommand> {
  constructor(private readonly decisions: LifecycleDecisions) {}

  async execute({ contactUuid, options }: ContactDeletedCommand): Promise<LifecycleResult> {
    const [contact, trace, key] = unwrapAll<[string, NormalisedTrace, string | undefined]>(
      validateUuidArgument('contactUuid', contactUuid),
      validateTraceOptions(options),
      validateIdempotencyKey(options?.idempotencyKey),
    );
    return this.decisions.decide({ kind: 'contact_deleted', contactUuid: contact }, trace, key);
  }
}
