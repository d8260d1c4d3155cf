import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { InteractionValidationError } from '../../domain/errors';
import { MESSAGES, NormalisedTrace, unwrapAll, validateIdempotencyKey, validateTraceOptions } from '../../domain/validation';
import { ContactsMergedCommand, LifecycleResult } from '../../nest/messages';
import { DATABASE, Directories, DIRECTORIES } from '../../nest/tokens';
import { Database } from '../../ports/database';
import { forgottenAmong } from '../../adapters/erasure/key-store';
import { LifecycleDecisions, validateUuidArgument } from '../decisions';

/** A contact merged into itself would re-point nothing. */
export const MERGE_INTO_ITSELF = 'must differ from fromUuid';

@CommandHandler(ContactsMergedCommand)
export class ContactsMergedHandler implements ICommandHandler<ContactsMergedCommand> {
  constructor(
    private readonly decisions: LifecycleDecisions,
    @Inject(DIRECTORIES) private readonly directories: Directories,
    @Inject(DATABASE) private readonly db: Database,
  ) {}

  async execute({ fromUuid, intoUuid, options }: ContactsMergedCommand): Promise<LifecycleResult> {
    const [from, into, trace, key] = unwrapAll<[string, string, NormalisedTrace, string | undefined]>(
      validateUuidArgument('fromUuid', fromUuid),
      validateUuidArgument('intoUuid', intoUuid),
      validateTraceOptions(options),
      validateIdempotencyKey(options),
    );
    if (from === into) throw new InteractionValidationError({ intoUuid: [MERGE_INTO_ITSELF] });
    // `into` becomes the subject of interactions, and a subject must exist; `from` may be gone already.
    // A forgotten contact is gone whatever the directory says: merged into, it would hold others' data again.
    const [found, forgotten] = await Promise.all([this.directories.contacts.findContacts([into]), forgottenAmong(this.db, [into])]);
    if (forgotten.size > 0 || !found.some((contact) => contact.uuid.toLowerCase() === into)) {
      throw new InteractionValidationError({ intoUuid: [MESSAGES.doesNotExist] });
    }
    return this.decisions.decide({ kind: 'contacts_merged', fromUuid: from, intoUuid: into }, trace, key);
  }
}
