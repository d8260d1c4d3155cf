import { Body, Controller, Delete, Get, Headers, HttpCode, NotFoundException, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InteractionValidationError } from '../domain/errors';
import { ContactRecord, Interaction } from '../domain/interaction';
import { InteractionsService } from '../nest/interactions.service';
import { InteractionCounts, LifecycleResult } from '../nest/messages';
import { normaliseUuid } from '../domain/validation';
import { DemoContacts } from './contacts';
import { answerFeed, ApiFeedQuery, DEFAULT_FEED_LIMIT, FeedAnswer, feedFiltersOf, QueryParameters } from './feed-query';
import { commandOptions } from './interactions.controller';
import { ACTOR_HEADER, CONTACT_BODY_SCHEMA, COUNTS_ANSWER_SCHEMA, FEED_ANSWER_SCHEMA, IDEMPOTENCY_KEY_HEADER, MERGE_BODY_SCHEMA, REQUEST_ID_HEADER } from './openapi';

@ApiTags('contacts')
@Controller('contacts')
export class ContactsController {
  constructor(
    private readonly contacts: DemoContacts,
    private readonly interactions: InteractionsService,
  ) {}

  @Post()
  @ApiOperation({ summary: "Add a contact to the demo host's own directory" })
  @ApiBody({ schema: CONTACT_BODY_SCHEMA })
  create(@Body() body: unknown): Promise<ContactRecord> {
    // A JSON null, array or scalar is refused like on /interactions (no body at all is an empty contact).
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      throw new InteractionValidationError({ body: ['must be a JSON object'] });
    }
    return this.contacts.create(body);
  }

  @Get()
  list(): Promise<ContactRecord[]> {
    return this.contacts.list();
  }

  @Patch(':uuid')
  @ApiOperation({ summary: 'Rename or correct a contact: the given fields change; interactions keep their frozen party snapshots' })
  @ApiBody({ schema: CONTACT_BODY_SCHEMA })
  async update(@Param('uuid') uuid: string, @Body() body: unknown): Promise<ContactRecord> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InteractionValidationError({ body: ['must be a JSON object'] });
    }
    const updated = await this.contacts.update(await this.existing(uuid), body);
    if (!updated) throw new NotFoundException(`Contact ${uuid} not found`);
    return updated;
  }

  @Get(':uuid/interactions')
  @ApiOperation({ summary: 'Every interaction involving the contact (subject or party), newest first, filtered and paged' })
  @ApiFeedQuery({ paged: true, defaultLimit: DEFAULT_FEED_LIMIT })
  @ApiOkResponse({ schema: FEED_ANSWER_SCHEMA })
  involving(@Param('uuid') uuid: string, @Query() query: QueryParameters): Promise<FeedAnswer<Interaction>> {
    return answerFeed(query, DEFAULT_FEED_LIMIT, (page) => this.interactions.listInvolving(uuid, page));
  }

  @Get(':uuid/interactions/counts')
  @ApiOperation({ summary: 'How many interactions involve the contact, in all and of each type, with the same filters' })
  @ApiFeedQuery({ paged: false })
  @ApiOkResponse({ schema: COUNTS_ANSWER_SCHEMA })
  counts(@Param('uuid') uuid: string, @Query() query: QueryParameters): Promise<InteractionCounts> {
    return this.interactions.countInvolving(uuid, feedFiltersOf(query));
  }

  // --- Contacts' lifecycle

  /**
   * The module's decision first (durable once it returns, and safe to retry), then the demo's own row: a
   * retry after a failure finds the contact still there.
   */
  @Delete(':uuid')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete a contact: its interactions are deleted, its party links nulled (contactDeleted)' })
  @ApiHeader(ACTOR_HEADER)
  @ApiHeader(REQUEST_ID_HEADER)
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  async delete(
    @Param('uuid') uuid: string,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<LifecycleResult> {
    const contact = await this.existing(uuid);
    const result = await this.interactions.contactDeleted(contact, commandOptions({ actorUuid, requestId, idempotencyKey }));
    await this.contacts.delete(contact);
    return result;
  }

  @Post(':uuid/merge')
  @HttpCode(200)
  @ApiOperation({ summary: 'Merge the contact into intoUuid: its interactions and party links move there; then it is deleted' })
  @ApiBody({ schema: MERGE_BODY_SCHEMA })
  @ApiHeader(ACTOR_HEADER)
  @ApiHeader(REQUEST_ID_HEADER)
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  async merge(
    @Param('uuid') uuid: string,
    @Body() body: unknown,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<LifecycleResult> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InteractionValidationError({ body: ['must be a JSON object'] });
    }
    const from = await this.existing(uuid);
    const { intoUuid } = body as { intoUuid?: unknown };
    const result = await this.interactions.contactsMerged(from, intoUuid as string, commandOptions({ actorUuid, requestId, idempotencyKey }));
    await this.contacts.delete(from);
    return result;
  }

  /**
   * Erasure: the module forgets the contact first (durable, safe to retry), then the demo erases its
   * own row. A contact the demo deleted before can still be forgotten.
   */
  @Post(':uuid/forget')
  @HttpCode(200)
  @ApiOperation({ summary: 'Forget a contact (GDPR art. 17): what DELETE does, and its data reads "[erased]" everywhere (forgetContact)' })
  @ApiHeader(ACTOR_HEADER)
  @ApiHeader(REQUEST_ID_HEADER)
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  async forget(
    @Param('uuid') uuid: string,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<LifecycleResult> {
    const result = await this.interactions.forgetContact(uuid, commandOptions({ actorUuid, requestId, idempotencyKey }));
    await this.contacts.delete(uuid.toLowerCase());
    return result;
  }

  /** The demo contact's uuid (lower case), else 404. */
  private async existing(uuid: string): Promise<string> {
    const contact = normaliseUuid(uuid);
    if (contact && (await this.contacts.findContacts([contact])).length > 0) return contact;
    throw new NotFoundException(`Contact ${uuid} not found`);
  }
  // --- end of contacts' lifecycle

  @Get(':uuid/interaction-uuids')
  @ApiOperation({ summary: 'Uuids of the interactions whose subject is the contact' })
  interactionUuids(@Param('uuid') uuid: string): Promise<string[]> {
    return this.interactions.interactionUuidsForContact(uuid);
  }
}
