import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { LifecycleResult, StaffPersonDeletedCommand } from '../../nest/messages';
import { LifecycleDecisions } from '../decisions';

@CommandHandler(StaffPersonDeletedCommand)
export class StaffPersonDeletedHandler implements ICommandHandler<StaffPersonDeletedCommand> {
  constructor(private readonly decisions: LifecycleDecisions) {}

  execute({ staffPersonUuid, options }: StaffPersonDeletedCommand): Promise<LifecycleResult> {
    return this.decisions.decideAbout('staff_person_deleted', staffPersonUuid, options);
  }
}
