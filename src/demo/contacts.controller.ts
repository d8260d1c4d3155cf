import { Body, Controller, Delete, Get, Headers, HttpCode, NotFoundException, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { InteractionUnavailableError, InteractionValidationError } from '../domain/errors';
import { ContactRecord, Interaction } from '../domain/interaction';
import { InteractionsService } from '../nest/interactions.service';
import { InteractionCounts, LifecycleResult } from '../nest/messages';
import { normaliseUuid } from '../domain/validation';
import { DemoContacts } from './contacts';
import { answerFeed, ApiFeedQuery, DEFAULT_FEED_LIMIT, FeedAnswer, feedFiltersOf, QueryParameters } from './feed-query';
import { commandOptions } from './interactions.controller';
import { ApiAnswers, ApiCommandHeaders, ApiIdempotencyKey, ApiJsonBody, ApiUuidParam } from './openapi';

@ApiTags('contacts')
@Controller('contacts')
export class ContactsController {
  constructor(
    private readonly contacts: DemoContacts,
    private readonly interactions: InteractionsService,
  ) {}

  @Post()
  @ApiOperation({ summary: "Add a contact to the demo host's own directory", operationId: 'createContact' })
  @ApiJsonBody('NewContact', false)
  @ApiIdempotencyKey()
  @ApiAnswers(201, 'Contact', [422], { body: true })
  create(@Body() body: unknown, @Headers('idempotency-key') idempotencyKey?: string): Promise<ContactRecord> {
    // A JSON null, array or scalar is refused like on /interactions (no body at all is an empty contact).
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      throw new InteractionValidationError({ body: ['must be a JSON object'] });
    }
    return this.contacts.create(body, { idempotencyKey });
  }

  @Get()
  @ApiOperation({ summary: "The demo host's contacts, oldest first", operationId: 'listContacts' })
  @ApiAnswers(200, 'ContactList')
  list(): Promise<ContactRecord[]> {
    return this.contacts.list();
  }

  @Patch(':uuid')
  @ApiOperation({
    summary: 'Rename or correct a contact: the given fields change; interactions keep their frozen party snapshots',
    operationId: 'updateContact',
  })
  @ApiUuidParam('uuid', 'the contact', { contact: true })
  @ApiJsonBody('ContactChanges')
  @ApiAnswers(200, 'Contact', [404, 422], { body: true })
  async update(@Param('uuid') uuid: string, @Body() body: unknown): Promise<ContactRecord> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InteractionValidationError({ body: ['must be a JSON object'] });
    }
    const updated = await this.contacts.update(await this.existing(uuid), body);
    if (!updated) throw new NotFoundException(`Contact ${uuid} not found`);
    return updated;
  }

  @Get(':uuid/interactions')
  @ApiOperation({
    summary: 'Every interaction involving the contact (subject or party), newest first, filtered and paged',
    operationId: 'listInteractionsInvolving',
  })
  @ApiUuidParam('uuid', 'the contact', { contact: true })
  @ApiFeedQuery({ paged: true, defaultLimit: DEFAULT_FEED_LIMIT })
  @ApiAnswers(200, 'InteractionPage', [422])
  involving(@Param('uuid') uuid: string, @Query() query: QueryParameters): Promise<FeedAnswer<Interaction>> {
    return answerFeed(query, DEFAULT_FEED_LIMIT, (page) => this.interactions.listInvolving(uuid, page));
  }

  @Get(':uuid/interactions/counts')
  @ApiOperation({
    summary: 'How many interactions involve the contact, in all and of each type, with the same filters',
    operationId: 'countInteractionsInvolving',
  })
  @ApiUuidParam('uuid', 'the contact', { contact: true })
  @ApiFeedQuery({ paged: false })
  @ApiAnswers(200, 'InteractionCounts', [422])
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
  @ApiOperation({ summary: 'Delete a contact: its interactions are deleted, its party links nulled (contactDeleted)', operationId: 'deleteContact' })
  @ApiUuidParam('uuid', 'the contact', { contact: true })
  @ApiCommandHeaders()
  @ApiAnswers(200, 'LifecycleResult', [404, 422])
  async delete(
    @Param('uuid') uuid: string,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<LifecycleResult> {
    const contact = await this.existing(uuid, idempotencyKey);
    const result = await this.interactions.contactDeleted(contact, commandOptions({ actorUuid, requestId, idempotencyKey }));
    await this.removeDecided(() => this.contacts.delete(contact, idempotencyKey));
    return result;
  }

  @Post(':uuid/merge')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Merge the contact into intoUuid: its interactions and party links move there; then it is deleted',
    operationId: 'mergeContact',
  })
  @ApiUuidParam('uuid', 'the contact that goes')
  @ApiJsonBody('MergeContact')
  @ApiCommandHeaders()
  @ApiAnswers(200, 'LifecycleResult', [404, 422], { body: true })
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
    const from = await this.existing(uuid, idempotencyKey);
    const { intoUuid } = body as { intoUuid?: unknown };
    const result = await this.interactions.contactsMerged(from, intoUuid as string, commandOptions({ actorUuid, requestId, idempotencyKey }));
    await this.removeDecided(() => this.contacts.delete(from, idempotencyKey, intoUuid as string));
    return result;
  }

  /**
   * Erasure: the module forgets the contact first (durable, safe to retry), then the demo erases its
   * own row, and those of the contacts it merged with her. A contact the demo deleted before can still be
   * forgotten.
   */
  @Post(':uuid/forget')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Forget a contact (GDPR art. 17): what DELETE does, and its data reads "[erased]" everywhere (forgetContact)',
    operationId: 'forgetContact',
  })
  @ApiUuidParam('uuid', 'the contact (also one the directory no longer has)')
  @ApiCommandHeaders()
  @ApiAnswers(200, 'LifecycleResult', [422])
  async forget(
    @Param('uuid') uuid: string,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<LifecycleResult> {
    const result = await this.interactions.forgetContact(uuid, commandOptions({ actorUuid, requestId, idempotencyKey }));
    // With every contact merged with hers: the module forgot them as one person.
    await this.removeDecided(() => this.contacts.forget(uuid.toLowerCase(), idempotencyKey));
    return result;
  }

  /**
   * The demo's own row goes after the module's decision, which is recorded by now: a failure here answers
   * `committed: true` (a retry finds the decision done, and removes the row).
   */
  private async removeDecided(remove: () => Promise<void>): Promise<void> {
    try {
      await remove();
    } catch (error) {
      if (error instanceof InteractionUnavailableError) throw new InteractionUnavailableError(error.message, true, { cause: error });
      throw error;
    }
  }

  /** The demo contact's uuid (lower case), also where the request this repeats removed it; else 404. */
  private async existing(uuid: string, idempotencyKey?: string): Promise<string> {
    const contact = normaliseUuid(uuid);
    if (contact && (await this.contacts.findContacts([contact])).length > 0) return contact;
    if (contact && idempotencyKey !== undefined && (await this.contacts.removedBy(contact, idempotencyKey))) return contact;
    throw new NotFoundException(`Contact ${uuid} not found`);
  }
  // --- end of contacts' lifecycle

  @Get(':uuid/interaction-uuids')
  @ApiOperation({ summary: 'Uuids of the interactions whose subject is the contact', operationId: 'listInteractionUuidsForContact' })
  @ApiUuidParam('uuid', 'the contact', { contact: true })
  @ApiAnswers(200, 'InteractionUuids')
  interactionUuids(@Param('uuid') uuid: string): Promise<string[]> {
    return this.interactions.interactionUuidsForContact(uuid);
  }
}
