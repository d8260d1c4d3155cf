import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { InteractionValidationError } from '../../domain/errors';
import { MESSAGES, NormalisedTrace, unwrapAll, validateIdempotencyKey, validateTraceOptions } from '../../domain/validation';
import { ContactsMergedCommand, LifecycleResult } from '../../nest/messages';
import { Directories, DIRECTORIES } from '../../nest/tokens';
import { LifecycleDecisions, validateUuidArgument } from '../decisions';

/** A contact merged into itself would re-point nothing. */
export const MERGE_INTO_ITSELF = 'must differ from fromUuid';

@CommandHandler(ContactsMergedCommand)
export class ContactsMergedHandler implements ICommandHandler<ContactsMergedCommand> {
  constructor(
    private readonly decisions: LifecycleDecisions,
    @Inject(DIRECTORIES) private readonly directories: Directories,
  ) {}

  async execute({ fromUuid, intoUuid, options }: ContactsMergedCommand): Promise<LifecycleResult> {
    const [from, into, trace, key] = unwrapAll<[string, string, NormalisedTrace, string | undefined]>(
      validateUuidArgument('fromUuid', fromUuid),
      validateUuidArgument('intoUuid', intoUuid),
      validateTraceOptions(options),
      validateIdempotencyKey(options),
    );
    if (from === into) throw new InteractionValidationError({ intoUuid: [MERGE_INTO_ITSELF] });
    // `into` becomes the subject of interactions, and a subject must exist; `from` may be gone already. A
    // forgotten contact is gone whatever the directory says: the decision's record refuses one (`recordDecision`).
    // A keyed repeat is answered as the first request was, also once the host has removed `into` since.
    if (!(await this.decisions.isRepeat(key))) await this.intoExists(into);
    return this.decisions.decide({ kind: 'contacts_merged', fromUuid: from, intoUuid: into }, trace, key);
  }

  private async intoExists(into: string): Promise<void> {
    const found = await this.directories.contacts.findContacts([into]);
    if (!found.some((contact) => contact.uuid.toLowerCase() === into)) throw new InteractionValidationError({ intoUuid: [MESSAGES.doesNotExist] });
  }
}
