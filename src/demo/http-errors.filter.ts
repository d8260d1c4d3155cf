import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import {
  InteractionConflictError,
  InteractionNotFoundError,
  InteractionUnavailableError,
  InteractionUnreadableError,
  InteractionValidationError,
} from '../domain/errors';
import { InteractionProjectionTimeoutError } from '../nest/read-your-writes';

/** The part of Express's response the filter uses. */
interface JsonResponse {
  status(code: number): { json(body: unknown): void };
}

/** Body-parser's errors carry their own status (413 too large, 415 unsupported charset …). */
interface BodyParserError {
  status?: number;
  type?: string;
}

const NOT_UNDERSTOOD = 'the request body was not understood';

/**
 * Maps every error to a JSON answer: domain errors to their statuses, validation to 422 `{ errors }`,
 * anything unexpected to a bare 500. No answer ever carries a stack trace or an internal message.
 */
@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<JsonResponse>();
    const [status, body] = this.answer(error);
    if (status >= 500) this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    response.status(status).json(body);
  }

  private answer(error: unknown): [number, Record<string, unknown>] {
    // Express's router refuses a path parameter it cannot percent-decode ("%ZZ") before any route runs.
    if (error instanceof Error && /^Failed to decode param /.test(error.message)) {
      return [400, { error: 'Bad Request', message: 'the path cannot be percent-decoded' }];
    }
    if (error instanceof InteractionValidationError) return [422, { errors: error.errors }];
    if (error instanceof InteractionNotFoundError) return [404, { error: 'Not Found', message: error.message }];
    if (error instanceof InteractionConflictError) {
      return [409, { error: 'Conflict', message: error.message, actualVersion: error.actualVersion }];
    }
    if (error instanceof InteractionProjectionTimeoutError) {
      return [503, { error: 'Service Unavailable', message: 'saved, but not yet visible to queries; retry the read', committed: true }];
    }
    if (error instanceof InteractionUnavailableError) {
      return [503, { error: 'Service Unavailable', message: 'the database is unreachable; retry', committed: error.committed }];
    }
    if (error instanceof InteractionUnreadableError) {
      return [500, { error: 'interaction_unreadable', message: error.message }];
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      // No route here throws a 400: it is Nest's wrap of the JSON parser's SyntaxError, whose message
      // quotes the start of the body (a password in a form posted by mistake): not echoed.
      if (status === 400) return [400, { error: 'Bad Request', message: NOT_UNDERSTOOD }];
      return [status, { error: STATUS_CODES[status] ?? 'Error', message: error.message }];
    }
    const parser = error as BodyParserError;
    if (typeof parser?.status === 'number' && parser.status >= 400 && parser.status < 500) {
      const message = parser.type === 'entity.too.large' ? 'the body is too large' : NOT_UNDERSTOOD;
      return [parser.status, { error: STATUS_CODES[parser.status] ?? 'Error', message }];
    }
    return [500, { error: 'Internal Server Error', message: 'something went wrong; it has been logged' }];
  }
}
