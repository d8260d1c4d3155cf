import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { NormalisedTrace, unwrapAll, validateIdempotencyKey, validateTraceOptions } from '../../domain/validation';
import { LifecycleResult, StaffPersonDeletedCommand } from '../../nest/messages';
import { LifecycleDecisions, validateUuidArgument } from '../decisions';

@CommandHandler(StaffPersonDeletedCommand)
export class StaffPersonDeletedHandler implements ICommandHandler<StaffPersonDeletedCommand> {
  constructor(private readonly decisions: LifecycleDecisions) {}

  async execute({ staffPersonUuid, options }: StaffPersonDeletedCommand): Promise<LifecycleResult> {
    const [staff, trace, key] = unwrapAll<[string, NormalisedTrace, string | undefined]>(
      validateUuidArgument('staffPersonUuid', staffPersonUuid),
      validateTraceOptions(options),
      validateIdempotencyKey(options?.idempotencyKey),
    );
    return this.decisions.decide({ kind: 'staff_person_deleted', staffPersonUuid: staff }, trace, key);
  }
}
