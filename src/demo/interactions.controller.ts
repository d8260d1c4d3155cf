import { Body, Controller, Delete, Get, Headers, HttpCode, NotFoundException, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { InteractionValidationError } from '../domain/errors';
import { Interaction, InteractionAttrs, PartyInput } from '../domain/interaction';
import { parseDate } from '../domain/validation';
import { InteractionsService } from '../nest/interactions.service';
import { CommandOptions, InteractionWithContact } from '../nest/messages';
import { DEFAULT_RECENT_LIMIT } from '../nest/query-handlers';
import { RecordedEvent } from '../ports/event-store';
import { EXAMPLE_CONTACT_UUID } from './openapi-schemas';
import { answerFeed, ApiFeedQuery, DEFAULT_FEED_LIMIT, FeedAnswer, QueryParameters, queryLimit, singleQueryValue } from './feed-query';
import { ApiAnswers, ApiCommandHeaders, ApiJsonBody, ApiUuidParam, DATE_PARAMETER } from './openapi';

type Body = Record<string, unknown>;

/** The body is the attrs, plus `parties` and `fileUuids` (create) or `expectedVersion` (update). */
function split(body: unknown): { attrs: InteractionAttrs; parties: unknown; rest: Body } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InteractionValidationError({ body: ['must be a JSON object'] });
  }
  const { parties, fileUuids, expectedVersion, ...attrs } = body as Body;
  return { attrs: attrs as InteractionAttrs, parties, rest: { fileUuids, expectedVersion, hasParties: 'parties' in body } };
}

/** The request headers that become command options. */
interface CommandHeaders {
  actorUuid?: string;
  requestId?: string;
  idempotencyKey?: string;
}

export function commandOptions({ actorUuid, requestId, idempotencyKey }: CommandHeaders): CommandOptions {
  return {
    actorUuid: actorUuid ?? null,
    ...(requestId && { correlationId: requestId }),
    // Passed as given, also "": the module validates it (1–200 characters) and answers 422.
    ...(idempotencyKey !== undefined && { idempotencyKey }),
  };
}

// Re-exported for the other controllers that read single query values and limits.
export { queryLimit, singleQueryValue };

/** `contactUuids=a,b`, also repeated (`contactUuids=a&contactUuids=b`): every value, comma-split. */
function contactUuidsOf(value: unknown): string[] {
  const values = Array.isArray(value) ? value : [value];
  if (value === undefined || !values.every((item): item is string => typeof item === 'string')) {
    throw new InteractionValidationError({ contactUuids: [value === undefined ? 'is required' : 'must be a list of UUIDs'] });
  }
  return values.flatMap((item) => item.split(',')).map((uuid) => uuid.trim()).filter(Boolean);
}

@ApiTags('interactions')
@Controller('interactions')
export class InteractionsController {
  constructor(private readonly interactions: InteractionsService) {}

  @Post()
  @ApiOperation({ summary: 'Log an interaction', operationId: 'createInteraction' })
  @ApiJsonBody('NewInteraction')
  @ApiCommandHeaders()
  @ApiAnswers(201, 'Interaction', [422], { body: true })
  create(
    @Body() body: unknown,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<Interaction> {
    const { attrs, parties, rest } = split(body);
    return this.interactions.createInteraction(
      attrs,
      (parties ?? []) as PartyInput[],
      (rest.fileUuids ?? []) as string[],
      commandOptions({ actorUuid, requestId, idempotencyKey }),
    );
  }

  @Get()
  @ApiOperation({ summary: 'The feed for a set of contacts (subjects), newest first, filtered and paged; each with `contact`',
    operationId: 'listInteractionsForContacts',
  })
  @ApiQuery({
    name: 'contactUuids',
    required: true,
    isArray: true,
    type: 'string',
    style: 'form',
    explode: false,
    description: 'contact uuids: comma-separated, and/or repeated',
    example: [EXAMPLE_CONTACT_UUID],
  })
  @ApiFeedQuery({ paged: true, defaultLimit: DEFAULT_FEED_LIMIT })
  @ApiAnswers(200, 'InteractionWithContactPage', [422])
  feed(@Query() query: QueryParameters): Promise<FeedAnswer<InteractionWithContact>> {
    const contactUuids = contactUuidsOf(query.contactUuids);
    return answerFeed(query, DEFAULT_FEED_LIMIT, (page) => this.interactions.listForContacts(contactUuids, page));
  }

  // Declared before GET :uuid, so that "recent" is not taken for an interaction's uuid.
  @Get('recent')
  @ApiOperation({ summary: "The whole CRM's newest interactions, filtered and paged; each with `contact`", operationId: 'listRecentInteractions' })
  @ApiFeedQuery({ paged: true, defaultLimit: DEFAULT_RECENT_LIMIT })
  @ApiAnswers(200, 'InteractionWithContactPage', [422])
  recent(@Query() query: QueryParameters): Promise<FeedAnswer<InteractionWithContact>> {
    return answerFeed(query, DEFAULT_RECENT_LIMIT, (page) => this.interactions.listRecent(page));
  }

  @Get(':uuid')
  @ApiOperation({ summary: 'An interaction', operationId: 'getInteraction' })
  @ApiUuidParam('uuid', 'the interaction (a malformed uuid is a 404 too)')
  @ApiAnswers(200, 'Interaction', [404])
  async get(@Param('uuid') uuid: string): Promise<Interaction> {
    const interaction = await this.interactions.getInteraction(uuid);
    if (!interaction) throw new NotFoundException(`Interaction ${uuid} not found`);
    return interaction;
  }

  @Patch(':uuid')
  @ApiOperation({ summary: 'Change attributes; `parties` replaces them ([] clears), absent or null leaves them', operationId: 'updateInteraction' })
  @ApiUuidParam('uuid', 'the interaction')
  @ApiJsonBody('InteractionChanges')
  @ApiCommandHeaders()
  @ApiAnswers(200, 'Interaction', [404, 409, 422], { body: true })
  update(
    @Param('uuid') uuid: string,
    @Body() body: unknown,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<Interaction> {
    const { attrs, parties, rest } = split(body);
    // `"parties": null` leaves them untouched, as the service's null does; only a list replaces them.
    const newParties = rest.hasParties && parties !== null ? (parties as PartyInput[]) : null;
    return this.interactions.updateInteraction(uuid, attrs, newParties, {
      ...commandOptions({ actorUuid, requestId, idempotencyKey }),
      ...(rest.expectedVersion !== undefined && { expectedVersion: rest.expectedVersion as number }),
    });
  }

  @Delete(':uuid')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete an interaction; answers it as it was', operationId: 'deleteInteraction' })
  @ApiUuidParam('uuid', 'the interaction')
  @ApiCommandHeaders()
  @ApiAnswers(200, 'Interaction', [404, 422])
  delete(
    @Param('uuid') uuid: string,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<Interaction> {
    return this.interactions.deleteInteraction(uuid, commandOptions({ actorUuid, requestId, idempotencyKey }));
  }

  @Get(':uuid/history')
  @ApiOperation({ summary: "The stream's events in order, for audits", operationId: 'getInteractionHistory' })
  @ApiUuidParam('uuid', 'the interaction')
  @ApiAnswers(200, 'InteractionHistory', [404])
  async history(@Param('uuid') uuid: string): Promise<Array<Omit<RecordedEvent, 'position'> & { position: { commit: string; prepare: string } }>> {
    const events = await this.interactions.history(uuid);
    if (events.length === 0) throw new NotFoundException(`Interaction ${uuid} not found`);
    return events.map((event) => ({
      ...event,
      position: { commit: event.position.commit.toString(), prepare: event.position.prepare.toString() },
    }));
  }

  @Get(':uuid/as-of')
  @ApiOperation({ summary: 'The interaction as it was at a time', operationId: 'getInteractionAsOf' })
  @ApiUuidParam('uuid', 'the interaction')
  @ApiQuery({ name: 'at', required: true, schema: DATE_PARAMETER, description: 'ISO-8601 date or date-time, years 0001–9999; given once', example: '2026-03-01T00:00:00Z' })
  @ApiAnswers(200, 'Interaction', [404, 422])
  async asOf(@Param('uuid') uuid: string, @Query('at') at?: unknown): Promise<Interaction> {
    const time = parseDate(singleQueryValue(at, 'at'));
    if (!time) throw new InteractionValidationError({ at: ['is not a valid date'] });
    const interaction = await this.interactions.getInteractionAsOf(uuid, time);
    if (!interaction) throw new NotFoundException(`Interaction ${uuid} did not exist at ${time.toISOString()}`);
    return interaction;
  }
}
