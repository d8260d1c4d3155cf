import { Body, Controller, Delete, Get, Headers, HttpCode, NotFoundException, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { InteractionValidationError } from '../domain/errors';
import { Interaction, InteractionAttrs, PartyInput } from '../domain/interaction';
import { InteractionsService } from '../nest/interactions.service';
import { CommandOptions, InteractionWithContact } from '../nest/messages';
import { RecordedEvent } from '../ports/event-store';
import { INTERACTION_BODY_SCHEMA } from './openapi';

type Body = Record<string, unknown>;

/** The body is the attrs, plus `parties` and `fileUuids` (create) or `expectedVersion` (update). */
function split(body: unknown): { attrs: InteractionAttrs; parties: unknown; rest: Body } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InteractionValidationError({ body: ['must be a JSON object'] });
  }
  const { parties, fileUuids, expectedVersion, ...attrs } = body as Body;
  return { attrs: attrs as InteractionAttrs, parties, rest: { fileUuids, expectedVersion, hasParties: 'parties' in body } };
}

function commandOptions(actorUuid: string | undefined, requestId: string | undefined): CommandOptions {
  return { actorUuid: actorUuid ?? null, ...(requestId && { correlationId: requestId }) };
}

/** An optional integer query parameter; the service validates its range. */
export function queryInteger(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value);
}

const ACTOR_HEADER = { name: 'x-actor-uuid', required: false, description: 'who acts; recorded in the event metadata' };

@ApiTags('interactions')
@Controller('interactions')
export class InteractionsController {
  constructor(private readonly interactions: InteractionsService) {}

  @Post()
  @ApiOperation({ summary: 'Log an interaction' })
  @ApiBody({ schema: INTERACTION_BODY_SCHEMA })
  @ApiHeader(ACTOR_HEADER)
  create(
    @Body() body: unknown,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
  ): Promise<Interaction> {
    const { attrs, parties, rest } = split(body);
    return this.interactions.createInteraction(
      attrs,
      (parties ?? []) as PartyInput[],
      (rest.fileUuids ?? []) as string[],
      commandOptions(actorUuid, requestId),
    );
  }

  @Get()
  @ApiOperation({ summary: 'The feed for a set of contacts (subjects), newest first' })
  @ApiQuery({ name: 'contactUuids', description: 'comma-separated contact uuids' })
  @ApiQuery({ name: 'limit', required: false })
  feed(@Query('contactUuids') contactUuids?: string, @Query('limit') limit?: string): Promise<InteractionWithContact[]> {
    if (contactUuids === undefined) throw new InteractionValidationError({ contactUuids: ['is required'] });
    const uuids = contactUuids.split(',').map((uuid) => uuid.trim()).filter(Boolean);
    return this.interactions.listForContacts(uuids, { limit: queryInteger(limit) });
  }

  @Get(':uuid')
  async get(@Param('uuid') uuid: string): Promise<Interaction> {
    const interaction = await this.interactions.getInteraction(uuid);
    if (!interaction) throw new NotFoundException(`Interaction ${uuid} not found`);
    return interaction;
  }

  @Patch(':uuid')
  @ApiOperation({ summary: 'Change attributes; `parties` replaces them ([] clears), absent leaves them' })
  @ApiBody({ schema: INTERACTION_BODY_SCHEMA })
  @ApiHeader(ACTOR_HEADER)
  update(
    @Param('uuid') uuid: string,
    @Body() body: unknown,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
  ): Promise<Interaction> {
    const { attrs, parties, rest } = split(body);
    return this.interactions.updateInteraction(uuid, attrs, rest.hasParties ? ((parties ?? []) as PartyInput[]) : null, {
      ...commandOptions(actorUuid, requestId),
      ...(rest.expectedVersion !== undefined && { expectedVersion: rest.expectedVersion as number }),
    });
  }

  @Delete(':uuid')
  @HttpCode(200)
  @ApiHeader(ACTOR_HEADER)
  delete(@Param('uuid') uuid: string, @Headers('x-actor-uuid') actorUuid?: string): Promise<Interaction> {
    return this.interactions.deleteInteraction(uuid, commandOptions(actorUuid, undefined));
  }

  @Get(':uuid/history')
  @ApiOperation({ summary: "The stream's events in order, for audits" })
  async history(@Param('uuid') uuid: string): Promise<Array<Omit<RecordedEvent, 'position'> & { position: { commit: string; prepare: string } }>> {
    const events = await this.interactions.history(uuid);
    if (events.length === 0) throw new NotFoundException(`Interaction ${uuid} not found`);
    return events.map((event) => ({
      ...event,
      position: { commit: event.position.commit.toString(), prepare: event.position.prepare.toString() },
    }));
  }

  @Get(':uuid/as-of')
  @ApiOperation({ summary: 'The interaction as it was at a time' })
  @ApiQuery({ name: 'at', description: 'ISO-8601 time' })
  async asOf(@Param('uuid') uuid: string, @Query('at') at?: string): Promise<Interaction> {
    const time = at ? new Date(at) : new Date(Number.NaN);
    if (Number.isNaN(time.getTime())) throw new InteractionValidationError({ at: ['is not a valid date'] });
    const interaction = await this.interactions.getInteractionAsOf(uuid, time);
    if (!interaction) throw new NotFoundException(`Interaction ${uuid} did not exist at ${time.toISOString()}`);
    return interaction;
  }
}
