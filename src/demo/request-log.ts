/**
 * What a request log line shows of a request (pino-http's `req`, as pino's standard serializer made it):
 * everything but the values of query parameters that may be personal data. `GET /parties/unresolved?name=
 * &email=` and a feed's `q=` carry a person's name, email or the words searched for, which `forgetContact`
 * cannot reach once they are in a log; the values of the parameters below are uuids, times, types and
 * page cursors, kept for debugging.
 */
const LOGGED_VALUES = new Set(['types', 'from', 'to', 'owner', 'after', 'limit', 'at', 'contactUuids']);

interface SerializedRequest {
  url?: string;
  query?: unknown;
  [field: string]: unknown;
}

export function requestForLog(request: SerializedRequest): SerializedRequest {
  const { query: _query, ...rest } = request; // its values again, decoded
  if (typeof request.url !== 'string') return rest;
  const at = request.url.indexOf('?');
  if (at < 0) return rest;
  const parameters = request.url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=', 1)[0]!;
      return pair.length === name.length || LOGGED_VALUES.has(name) ? pair : `${name}=[redacted]`;
    });
  return { ...rest, url: `${request.url.slice(0, at)}?${parameters.join('&')}` };
}
