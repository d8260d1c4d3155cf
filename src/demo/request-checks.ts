import { ForbiddenException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';

/** The part of Express's request the checks use (the project has no Express types). */
interface Request extends IncomingMessage {
  method: string;
  protocol: string;
  is(type: string): string | false | null;
}
type Next = (error?: unknown) => void;

/** The methods that change something: the ones a cross-site page must not be able to send. */
export const STATE_CHANGING = ['POST', 'PATCH', 'PUT', 'DELETE'];

/**
 * Refuses a state-changing request that a browser marks as sent by another site (CSRF: a form on any page
 * can POST here, e.g. to `/contacts/:uuid/forget`). Browsers send `Origin` with every such request;
 * a request without it (curl, another server) is not a browser's and goes on.
 */
export function refuseCrossSite(request: Request, _response: unknown, next: Next): void {
  if (!STATE_CHANGING.includes(request.method)) return next();
  const origin = request.headers.origin;
  const site = request.headers['sec-fetch-site'];
  const foreign = (origin !== undefined && origin !== `${request.protocol}://${request.headers.host}`) || site === 'cross-site' || site === 'same-site';
  next(foreign ? new ForbiddenException('a request from another site may not change anything here') : undefined);
}

/**
 * Refuses a body that is not JSON (a form, text) with 415: the JSON parser would skip it, and the route
 * would act as if there were no body (`POST /contacts` would create an empty contact).
 */
export function refuseNonJsonBody(request: Request, _response: unknown, next: Next): void {
  const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
  const refused = STATE_CHANGING.includes(request.method) && hasBody && !request.is('application/json');
  next(refused ? new UnsupportedMediaTypeException('the body must be JSON (Content-Type: application/json)') : undefined);
}
