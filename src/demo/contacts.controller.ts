import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { InteractionValidationError } from '../domain/errors';
import { ContactRecord, Interaction } from '../domain/interaction';
import { feedCursorOf } from '../nest/feed-cursor';
import { InteractionsService } from '../nest/interactions.service';
import { DemoContacts } from './contacts';
import { queryLimit, singleQueryValue } from './interactions.controller';
import { CONTACT_BODY_SCHEMA } from './openapi';

const DEFAULT_PAGE = 50;

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

  @Get(':uuid/interactions')
  @ApiOperation({ summary: 'Every interaction involving the contact (subject or party), newest first, paged' })
  @ApiQuery({ name: 'limit', required: false, description: `default ${DEFAULT_PAGE}; given at most once` })
  @ApiQuery({ name: 'after', required: false, description: 'the nextCursor of the previous page; given at most once' })
  async involving(
    @Param('uuid') uuid: string,
    @Query('limit') limit?: unknown,
    @Query('after') after?: unknown,
  ): Promise<{ items: Interaction[]; nextCursor: string | null }> {
    const pageSize = queryLimit(limit) ?? DEFAULT_PAGE;
    const cursor = singleQueryValue(after, 'after');
    const items = await this.interactions.listInvolving(uuid, { limit: pageSize, after: cursor || null });
    const last = items[items.length - 1];
    return { items, nextCursor: items.length === pageSize && last ? feedCursorOf(last) : null };
  }

  @Get(':uuid/interaction-uuids')
  @ApiOperation({ summary: 'Uuids of the interactions whose subject is the contact' })
  interactionUuids(@Param('uuid') uuid: string): Promise<string[]> {
    return this.interactions.interactionUuidsForContact(uuid);
  }
}
