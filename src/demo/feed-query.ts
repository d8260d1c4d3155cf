import { applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import { ErrorCollector, InteractionValidationError } from '../domain/errors';
import { Interaction, INTERACTION_TYPES, InteractionType } from '../domain/interaction';
import { MAX_SEARCH_CHARACTERS } from '../domain/search';
import { STORABLE_TEXT } from '../domain/storable';
import { MAX_PAGE_SIZE } from '../domain/validation';
import { feedCursorOf } from '../nest/feed-cursor';
import { FeedFilters, FeedPage } from '../nest/messages';
import { DATE_PARAMETER, UUID_PARAMETER } from './openapi';

/**
 * The demo host's feed query parameters (`types=call,email&from=&to=&owner=&q=&after=&limit=`), read
 * into the module's FeedPage, and documented for OpenAPI, in one place for every feed route. The module
 * validates the values; its field errors keep the module's names (`from` → `occurredFrom`, ...), and so
 * does the "given at most once" error of a repeated parameter, so that each parameter has one key.
 */

/** The page size of a contact's feed and of GET /interactions when `limit` is absent. */
export const DEFAULT_FEED_LIMIT = 50;

/** A request's query object as Express parsed it: strings, arrays of them, or nested objects. */
export type QueryParameters = Record<string, unknown>;

/**
 * One value of a query parameter. A repeated one (`?limit=1&limit=2`) is refused with 422 rather
 * than guessed at; only `contactUuids` and `types` take several.
 */
export function singleQueryValue(value: unknown, name: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new InteractionValidationError({ [name]: ['must be given at most once'] });
}

const LIMIT_MESSAGE = `must be an integer between 1 and ${MAX_PAGE_SIZE}`;

/**
 * An optional `limit` query parameter: absent is undefined; decimal digits only, so "", "abc", "1e3"
 * and "1.0" are 422 (the service checks the range).
 */
export function queryLimit(value: unknown): number | undefined {
  const text = singleQueryValue(value, 'limit');
  if (text === undefined) return undefined;
  if (!/^-?\d{1,9}$/.test(text)) throw new InteractionValidationError({ limit: [LIMIT_MESSAGE] });
  return Number(text);
}

/**
 * `types=call,email`, also repeated (`types=call&types=email`): every value comma-split; `types=` is
 * the empty list, which nothing passes (as the service's `types: []`). Anything else (`types[a][b]=`)
 * is passed on for the module to refuse with its own message.
 */
function typesOf(value: unknown): InteractionType[] | undefined {
  if (value === undefined) return undefined;
  const values = Array.isArray(value) ? value : [value];
  if (!values.every((item): item is string => typeof item === 'string')) return value as InteractionType[];
  // Each type once: a list names at most every type (a repeated one is not refused as too many).
  return [...new Set(values.flatMap((item) => item.split(',')).map((type) => type.trim()).filter(Boolean))] as InteractionType[];
}

/** The filter parameters: the query parameter, the FeedFilters field it becomes, and its documentation. */
const FILTER_PARAMETERS = [
  {
    name: 'from',
    field: 'occurredFrom',
    description: 'ISO-8601 date or date-time (years 0001–9999), inclusive; errors are reported on `occurredFrom`',
    example: '2026-01-01',
    date: true,
  },
  {
    name: 'to',
    field: 'occurredTo',
    description: 'ISO-8601 date or date-time, exclusive, not before `from`; errors are reported on `occurredTo`',
    example: '2026-02-01T00:00:00Z',
    date: true,
  },
  { name: 'owner', field: 'ownerUserUuid', description: "the owner's user uuid, any letter case; errors are reported on `ownerUserUuid`", format: 'uuid' },
  {
    name: 'q',
    field: 'search',
    description: 'words (and word prefixes) of subject and body, all of them, ignoring case and accents (Chinese and Japanese by pairs of characters); `q=` filters nothing; errors are reported on `search`',
    example: 'renew',
    maxLength: MAX_SEARCH_CHARACTERS,
    pattern: STORABLE_TEXT.source,
  },
] as const;

/** Runs each reader; the 422s of all of them together, or their values. */
function readAll<T extends object>(readers: { [K in keyof T]: () => T[K] }): T {
  const errors = new ErrorCollector();
  const values: Partial<T> = {};
  for (const key of Object.keys(readers) as Array<keyof T>) {
    try {
      values[key] = readers[key]();
    } catch (error) {
      if (!(error instanceof InteractionValidationError)) throw error;
      for (const [field, messages] of Object.entries(error.errors)) messages.forEach((message) => errors.add(field, message));
    }
  }
  errors.throwIfAny();
  // Absent parameters are left out (a FeedPage's `undefined` is "any" all the same).
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as T;
}

/** How to read each of the FeedFilters from the query. */
function filterReaders(query: QueryParameters): { [K in keyof FeedFilters]-?: () => FeedFilters[K] } {
  const singles = FILTER_PARAMETERS.map(({ name, field }) => [field, () => singleQueryValue(query[name], field)] as const);
  return { types: () => typesOf(query.types), ...(Object.fromEntries(singles) as Record<(typeof singles)[number][0], () => string | undefined>) };
}

/** The filters of a count: `types`, `from`, `to`, `owner`, `q` (no `limit` or `after`: a count has no page). */
export function feedFiltersOf(query: QueryParameters): FeedFilters {
  return readAll(filterReaders(query));
}

/** The FeedPage of a feed route: the filters, `after` (`after=` is no cursor) and `limit` (`defaultLimit` when absent). */
export function feedPageOf(query: QueryParameters, defaultLimit: number): FeedPage & { limit: number } {
  const page = readAll<FeedPage>({
    ...filterReaders(query),
    after: () => singleQueryValue(query.after, 'after') || undefined,
    limit: () => queryLimit(query.limit),
  });
  return { ...page, limit: page.limit ?? defaultLimit };
}

/** What a feed route answers: the page, and the cursor of the next one (null when this page is not full). */
export interface FeedAnswer<T> {
  items: T[];
  nextCursor: string | null;
}

/** Reads the page from the query, lists it, and answers it with its `nextCursor`. */
export async function answerFeed<T extends Interaction>(
  query: QueryParameters,
  defaultLimit: number,
  list: (page: FeedPage) => Promise<T[]>,
): Promise<FeedAnswer<T>> {
  const page = feedPageOf(query, defaultLimit);
  const items = await list(page);
  const last = items[items.length - 1];
  return { items, nextCursor: items.length === page.limit && last ? feedCursorOf(last) : null };
}

/**
 * The OpenAPI parameters of a feed (`paged`: with `limit` and `after`) or of a count (without them), the
 * same on every route.
 */
export function ApiFeedQuery(options: { paged: false } | { paged: true; defaultLimit: number }): MethodDecorator {
  const filters = [
    ApiQuery({
      name: 'types',
      required: false,
      isArray: true,
      enum: [...INTERACTION_TYPES],
      style: 'form',
      explode: false,
      description: 'only these types: comma-separated (`types=call,email`), and/or repeated (`types=call&types=email`); `types=` matches nothing',
    }),
    ...FILTER_PARAMETERS.map(({ name, description, ...schema }) =>
      ApiQuery({
        name,
        required: false,
        description: `${description}; given at most once`,
        // `from=`, `to=`, `owner=` are refused (422), where `q=` filters nothing.
        ...('date' in schema ? { schema: DATE_PARAMETER } : { type: 'string', ...(name !== 'q' && { minLength: 1 }) }),
        ...('format' in schema && { format: schema.format, pattern: UUID_PARAMETER.pattern }),
        ...('maxLength' in schema && { maxLength: schema.maxLength, pattern: schema.pattern }),
        ...('example' in schema && { example: schema.example }),
      }),
    ),
  ];
  if (!options.paged) return applyDecorators(...filters);
  return applyDecorators(
    ...filters,
    ApiQuery({
      name: 'limit',
      required: false,
      type: 'integer',
      minimum: 1,
      maximum: MAX_PAGE_SIZE,
      default: options.defaultLimit,
      description: `page size, decimal digits, 1 to ${MAX_PAGE_SIZE} (default ${options.defaultLimit}); given at most once`,
    }),
    ApiQuery({
      name: 'after',
      required: false,
      type: 'string',
      description: 'the `nextCursor` of the previous page (`after=` is the first page); given at most once',
    }),
  );
}
