import { Body, Controller, Get, Headers, Param, Put, Query } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { InteractionValidationError } from '../domain/errors';
import { Interaction } from '../domain/interaction';
import { DEFAULT_UNRESOLVED_LIMIT, LINK_MESSAGES } from '../domain/late-linking';
import { MAX_PAGE_SIZE } from '../domain/validation';
import { InteractionsService } from '../nest/interactions.service';
import { UnresolvedParty } from '../nest/messages';
import { commandOptions, queryLimit, singleQueryValue } from './interactions.controller';
import { ApiAnswers, ApiCommandHeaders, ApiJsonBody, ApiUuidParam } from './openapi';

/** Late linking: find free-text parties by name or email, and link one to a contact or staff person. */
@ApiTags('parties')
@Controller()
export class LateLinkingController {
  constructor(private readonly interactions: InteractionsService) {}

  @Get('parties/unresolved')
  @ApiOperation({
    summary: 'Free-text parties whose raw name is the name (ignoring case, accents, spaces) or holds the email; newest first',
    operationId: 'findUnresolvedParties',
  })
  @ApiQuery({ name: 'name', required: false, type: 'string', description: 'not blank; `name` or `email` (or both) is required', example: 'Their lawyer' })
  @ApiQuery({ name: 'email', required: false, type: 'string', format: 'email', description: 'a whole address, matched case-insensitively' })
  @ApiQuery({
    name: 'limit',
    required: false,
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: DEFAULT_UNRESOLVED_LIMIT,
    description: `decimal digits, 1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_UNRESOLVED_LIMIT}`,
  })
  @ApiAnswers(200, 'UnresolvedParties', [422])
  unresolved(@Query('name') name?: unknown, @Query('email') email?: unknown, @Query('limit') limit?: unknown): Promise<UnresolvedParty[]> {
    return this.interactions.findUnresolvedParties(
      { name: singleQueryValue(name, 'name'), email: singleQueryValue(email, 'email') },
      { limit: queryLimit(limit) },
    );
  }

  @Put('interactions/:uuid/parties/:position/link')
  @ApiOperation({ summary: 'Link the party at a position to a contact or a staff person, with a snapshot taken now', operationId: 'linkParty' })
  @ApiUuidParam('uuid', 'the interaction')
  @ApiParam({ name: 'position', description: "the party's position (decimal digits)", schema: { type: 'integer', minimum: 0, maximum: 999_999_999 } })
  @ApiJsonBody('LinkParty')
  @ApiCommandHeaders()
  @ApiAnswers(200, 'Interaction', [404, 422], { body: true })
  link(
    @Param('uuid') uuid: string,
    @Param('position') position: string,
    @Body() body: unknown,
    @Headers('x-actor-uuid') actorUuid?: string,
    @Headers('x-request-id') requestId?: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<Interaction> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InteractionValidationError({ body: ['must be a JSON object'] });
    }
    if (!/^\d{1,9}$/.test(position)) throw new InteractionValidationError({ position: [LINK_MESSAGES.position] });
    const { contactUuid, staffPersonUuid } = body as Record<string, unknown>;
    return this.interactions.linkParty(
      uuid,
      Number(position),
      { contactUuid, staffPersonUuid } as { contactUuid: string },
      commandOptions({ actorUuid, requestId, idempotencyKey }),
    );
  }
}
