import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ContactDeletedCommand, ForgetContactCommand, LifecycleResult } from '../../nest/messages';
import { LifecycleDecisions } from '../decisions';

@CommandHandler(ContactDeletedCommand)
export class ContactDeletedHandler implements ICommandHandler<ContactDeletedCommand> {
  constructor(private readonly decisions: LifecycleDecisions) {}

  execute({ contactUuid, options }: ContactDeletedCommand): Promise<LifecycleResult> {
    return this.decisions.decideAbout('contact_deleted', contactUuid, options);
  }
}

/** Erasure: a contact_deleted whose fan-out destroys the contact's keys first (see src/adapters/erasure). */
@CommandHandler(ForgetContactCommand)
export class ForgetContactHandler implements ICommandHandler<ForgetContactCommand> {
  constructor(private readonly decisions: LifecycleDecisions) {}

  execute({ contactUuid, options }: ForgetContactCommand): Promise<LifecycleResult> {
    return this.decisions.decideAbout('contact_forgotten', contactUuid, options);
  }
}
