import { Inject, Injectable } from '@nestjs/common';
import { uuidv7 } from '../domain/uuid';
import {
  MESSAGES,
  NormalisedTrace,
  normaliseUuid,
  unwrapAll,
  Validated,
  validateIdempotencyKey,
  validateTraceOptions,
} from '../domain/validation';
import { InteractionUnavailableError } from '../domain/errors';
import { Database } from '../ports/database';
import { fingerprintOf } from '../nest/idempotency';
import { CommandOptions, LifecycleResult } from '../nest/messages';
import { LifecycleDecision } from './decider';
import { decidedAs, keyRecorded, RecordedDecision, recordDecision } from './decision-store';
import { FanOutStoppedError, LifecycleFanOut } from './fan-out';
import { DATABASE } from '../nest/tokens';

/** What a lifecycle command decides, before it has an id (each kind of decision without its id). */
export type DecisionInput = LifecycleDecision extends infer D ? (D extends unknown ? Omit<D, 'decisionId'> : never) : never;

/** A uuid argument of a lifecycle command: lower-cased, or the error at `field`. */
export function validateUuidArgument(field: string, input: unknown): Validated<string> {
  if (input === undefined || input === null || input === '') return { ok: false, errors: { [field]: [MESSAGES.required] } };
  const uuid = normaliseUuid(input);
  return uuid ? { ok: true, value: uuid } : { ok: false, errors: { [field]: [MESSAGES.uuid] } };
}

/**
 * Records a decision (or finds the first one of its idempotency key), then fans it out; what every
 * lifecycle command handler ends with.
 */
@Injectable()
export class LifecycleDecisions {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly fanOut: LifecycleFanOut,
  ) {}

  /** A decision about one contact or staff person, from a command's arguments as given: validated first. */
  async decideAbout(
    kind: 'contact_deleted' | 'contact_forgotten' | 'staff_person_deleted',
    uuid: unknown,
    options: CommandOptions | undefined,
  ): Promise<LifecycleResult> {
    const field = kind === 'staff_person_deleted' ? 'staffPersonUuid' : 'contactUuid';
    const [about, trace, key] = unwrapAll<[string, NormalisedTrace, string | undefined]>(
      validateUuidArgument(field, uuid),
      validateTraceOptions(options),
      validateIdempotencyKey(options),
    );
    return this.decide({ kind, [field]: about } as DecisionInput, trace, key);
  }

  /**
   * Whether `key` names a decision recorded already: its repeat is answered as the first request was
   * (`decide`), so a command's checks of the directory as it is now are not made for it.
   */
  async isRepeat(key: string | undefined): Promise<boolean> {
    return key !== undefined && (await keyRecorded(this.db, key));
  }

  async decide(input: DecisionInput, trace: NormalisedTrace, idempotencyKey: string | undefined): Promise<LifecycleResult> {
    const decisionId = uuidv7();
    const fingerprint = fingerprintOf({ ...input, actorUuid: trace.actorUuid });
    let recorded: RecordedDecision;
    try {
      recorded = await recordDecision(
        this.db,
        {
          decision: { ...input, decisionId } as LifecycleDecision,
          actorUuid: trace.actorUuid,
          correlationId: trace.correlationId ?? decisionId,
          completed: false,
          interactions: null,
        },
        { key: idempotencyKey ?? null, fingerprint },
      );
    } catch (error) {
      if (!(error instanceof InteractionUnavailableError)) throw error;
      // Nothing is decided before the decision is recorded; one whose answer was lost may be: read back.
      // Recorded, it is run now (it would be on the next start anyway); absent, it may still land.
      const found = error.committed === 'unknown' ? await decidedAs(this.db, decisionId).catch(() => null) : null;
      if (!found) throw new InteractionUnavailableError(error.message, error.committed === 'unknown' ? 'unknown' : false, { cause: error });
      recorded = found;
    }
    try {
      return await this.fanOut.run(recorded);
    } catch (error) {
      // The module closed under it, or a store went away: recorded, so the next start (or `resume`) finishes it.
      if (error instanceof FanOutStoppedError || error instanceof InteractionUnavailableError) {
        throw new InteractionUnavailableError(error.message, true, { cause: error });
      }
      throw error;
    }
  }
}
