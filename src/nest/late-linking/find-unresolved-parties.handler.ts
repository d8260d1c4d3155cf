import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { DEFAULT_UNRESOLVED_LIMIT, UnresolvedFilter, validateUnresolvedFilter } from '../../domain/late-linking';
import { MESSAGES, unwrapAll, validateLimit } from '../../domain/validation';
import { InteractionValidationError } from '../../domain/errors';
import { Database } from '../../ports/database';
import { findUnresolvedParties } from '../../../projections/unresolved-parties.queries';
import { FindUnresolvedPartiesQuery, UnresolvedParty } from '../messages';
import { READ_DATABASE } from '../tokens';

/** findUnresolvedParties: one look-up of the unresolved-party indexes (see the query). */
@QueryHandler(FindUnresolvedPartiesQuery)
export class FindUnresolvedPartiesHandler implements IQueryHandler<FindUnresolvedPartiesQuery> {
  constructor(@Inject(READ_DATABASE) private readonly db: Database) {}

  async execute({ filter, options }: FindUnresolvedPartiesQuery): Promise<UnresolvedParty[]> {
    const [keys, limit] = unwrapAll<[UnresolvedFilter, number | null]>(
      validateUnresolvedFilter(filter),
      validateLimit(limitOf(options)),
    );
    return findUnresolvedParties(this.db, keys, limit ?? DEFAULT_UNRESOLVED_LIMIT);
  }
}

function limitOf(options: unknown): unknown {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || Array.isArray(options)) throw new InteractionValidationError({ options: [MESSAGES.object] });
  try {
    return (options as { limit?: unknown }).limit;
  } catch {
    throw new InteractionValidationError({ options: [MESSAGES.unreadable] });
  }
}
