import { applyDecorators, INestApplication } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiParam, ApiResponse, DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { z } from 'zod';
import { MAX_IDEMPOTENCY_KEY_CHARACTERS, MAX_TRACE_ID_CHARACTERS, uuidSchema } from '../domain/validation';
import { componentSchemas, dateText, EXAMPLE_CONTACT_UUID } from './openapi-schemas';
import { STATE_CHANGING } from './request-checks';

/**
 * The OpenAPI document of the demo host: Nest's decorators give the paths, operations and parameters;
 * every body is a $ref to a component that `componentSchemas` generates from the zod schemas
 * (openapi-schemas.ts). The decorators below are the only way the controllers name a body.
 */

/** The names of the components (openapi-schemas.ts registers each). */
export type ComponentName =
  | 'Interaction'
  | 'InteractionWithContact'
  | 'InteractionPage'
  | 'InteractionWithContactPage'
  | 'InteractionCounts'
  | 'InteractionUuids'
  | 'InteractionHistory'
  | 'Contact'
  | 'ContactList'
  | 'LifecycleResult'
  | 'UnresolvedParties'
  | 'Health'
  | 'NewInteraction'
  | 'InteractionChanges'
  | 'LinkParty'
  | 'MergeContact'
  | 'NewContact'
  | 'ContactChanges';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** What each error status answers (src/demo/http-errors.filter.ts). */
const ERRORS = {
  400: { description: 'the body is not JSON, or the path cannot be percent-decoded', schema: 'HttpError' },
  403: { description: 'a browser sent it from another site (Origin or Sec-Fetch-Site): refused, against CSRF', schema: 'HttpError' },
  404: { description: 'not found', schema: 'HttpError' },
  409: { description: 'expectedVersion is not the current version', schema: 'Conflict' },
  413: { description: 'the body is over 256 kB', schema: 'HttpError' },
  415: { description: 'a body that is not JSON (another Content-Type), not UTF-8, or encoded in a way the host does not read', schema: 'HttpError' },
  422: { description: 'invalid input: field → messages', schema: 'ValidationErrors' },
  500: { description: 'unexpected; details are in the log only', schema: 'HttpError' },
  503: { description: 'the database is unreachable, or the write is not yet visible to queries', schema: 'Unavailable' },
} as const;
export type ErrorStatus = keyof typeof ERRORS;

/** Every route may answer a bare 500; every route that reaches the module a 503. */
const ALWAYS: ErrorStatus[] = [500, 503];

/** Every state-changing route refuses a cross-site request and a body that is not JSON (request-checks.ts). */
const STATE_CHANGING_ERRORS: ErrorStatus[] = [403, 415];

const errorAnswer = (status: ErrorStatus) => ({ description: ERRORS[status].description, content: { 'application/json': { schema: ref(ERRORS[status].schema) } } });

/**
 * The answer of an operation and its errors: `status` with the component `schema`, and each error status
 * with its body. A route with a JSON body also answers 400 and 413 (`body: true`).
 */
export function ApiAnswers(status: number, schema: ComponentName, errors: ErrorStatus[] = [], options: { body?: boolean } = {}): MethodDecorator {
  const statuses = [...new Set<ErrorStatus>([...(options.body ? ([400, 413] as const) : []), ...errors, ...ALWAYS])].sort();
  return applyDecorators(ApiResponse({ status, description: 'OK', content: { 'application/json': { schema: ref(schema) } } }), ApiErrors(...statuses));
}

/** The error `statuses` an operation answers, each with its body. */
export function ApiErrors(...statuses: ErrorStatus[]): MethodDecorator {
  return applyDecorators(...statuses.map((error) => ApiResponse({ status: error, ...errorAnswer(error) })));
}

/** The JSON request body, as the component `schema` (its example is the component's). */
export function ApiJsonBody(schema: ComponentName, required = true): MethodDecorator {
  return ApiBody({ required, schema: ref(schema) });
}

/** A date or date-time parameter as the module reads it (`from`, `to`, `at`): the patterns `occurredAt` carries in bodies. */
export const DATE_PARAMETER = (({ $schema: _dialect, ...schema }) => schema)(z.toJSONSchema(dateText) as Record<string, unknown>);

/** A uuid parameter or header as the module reads it: the pattern the body components carry too. */
export const UUID_PARAMETER = { type: 'string', format: 'uuid', pattern: (z.toJSONSchema(uuidSchema) as { pattern: string }).pattern } as const;

/**
 * A path parameter that is a uuid; `contact`: its example is a sample contact. A path whose parameter
 * cannot be percent-decoded (`%ZZ`) is answered 400 before any route runs.
 */
export function ApiUuidParam(name: string, description: string, options: { contact?: boolean } = {}): MethodDecorator {
  return applyDecorators(
    ApiParam({
      name,
      description,
      schema: { ...UUID_PARAMETER, ...(options.contact && { example: EXAMPLE_CONTACT_UUID }) },
    }),
    ApiErrors(400),
  );
}

const IDEMPOTENCY_KEY = 'Idempotency-Key';

/** The optional request headers a command takes (POST, PATCH, PUT, DELETE). */
export function ApiCommandHeaders(): MethodDecorator {
  return applyDecorators(
    ApiHeader({ name: 'x-actor-uuid', required: false, schema: UUID_PARAMETER, description: 'who acts; recorded in the event metadata' }),
    ApiHeader({
      name: 'x-request-id',
      required: false,
      schema: { type: 'string', maxLength: MAX_TRACE_ID_CHARACTERS },
      description: "ties the command's events to the request (their correlationId, 1 to 200 characters); a new id when absent",
    }),
    ApiIdempotencyKey(),
  );
}

/** The optional `Idempotency-Key` header alone (a command of the demo's own directory: no actor, no events). */
export function ApiIdempotencyKey(): MethodDecorator {
  return ApiHeader({
    name: IDEMPOTENCY_KEY,
    required: false,
    // The caps as schemas, not only in prose: a generated client checks them ("" is no header at all).
    schema: { type: 'string', maxLength: MAX_IDEMPOTENCY_KEY_CHARACTERS },
    description:
      '1 to 200 characters: a repeat with the same key and the same request answers the first result and writes ' +
      'nothing; the same key with another request is a 422 on idempotencyKey. Kept at least 24 hours.',
  });
}
interface HeaderParameter {
  name: string;
  in: string;
  description?: string;
}

/**
 * Nest also documents each `@Headers('…')` argument, as a required parameter named in lower case: header
 * names are case-insensitive, so of two with the same name the declared one (with its description) stays.
 */
function withoutDuplicateHeaders(document: OpenAPIObject): void {
  for (const operations of Object.values(document.paths)) {
    for (const operation of Object.values(operations) as Array<{ parameters?: HeaderParameter[] }>) {
      if (!operation?.parameters) continue;
      const declared = new Set(operation.parameters.filter((p) => p.in === 'header' && p.description).map((p) => p.name.toLowerCase()));
      operation.parameters = operation.parameters.filter((p) => p.in !== 'header' || p.description || !declared.has(p.name.toLowerCase()));
    }
  }
}

/** The refusals every state-changing operation may answer, whatever its decorators say. */
function withStateChangingErrors(document: OpenAPIObject): void {
  for (const operations of Object.values(document.paths)) {
    for (const [method, operation] of Object.entries(operations) as Array<[string, { responses?: Record<string, unknown> }]>) {
      if (!STATE_CHANGING.includes(method.toUpperCase()) || !operation?.responses) continue;
      for (const status of STATE_CHANGING_ERRORS) operation.responses[status] = errorAnswer(status);
    }
  }
}

/** The whole document: Nest's paths, the generated components. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('crm-interactions demo host')
      .setDescription(
        'The History/Interactions tab of a CRM, over an event-sourced NestJS module. Unknown routes answer 404 (HttpError). ' +
          `The examples name the sample data's contacts (Ada Lovelace is ${EXAMPLE_CONTACT_UUID}).`,
      )
      .setVersion('1')
      .setOpenAPIVersion('3.1.0')
      .build(),
  );
  withoutDuplicateHeaders(document);
  withStateChangingErrors(document);
  document.components = { ...document.components, schemas: componentSchemas() as NonNullable<OpenAPIObject['components']>['schemas'] };
  return document;
}
