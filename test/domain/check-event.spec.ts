import { checkEvent, EVENT_SCHEMAS, InteractionEvent, InvalidEventError, parseEvent } from '../../src/domain/events';

/**
 * The write side's parse before append (checkEvent) answers parseEvent for the same data object, so the
 * inline projection of the append does not parse it again; data from anywhere else is always parsed.
 */
describe('checkEvent and parseEvent', () => {
  const interactionUuid = '0190d8a2-5a7e-7cc1-8f3e-1a2b3c4d5e6f';
  const updated = (): InteractionEvent => ({
    type: 'InteractionUpdated',
    data: { schemaVersion: 1, interactionUuid, changes: { subject: 'Renamed' } },
  });
  let safeParse: jest.SpyInstance;
  beforeEach(() => (safeParse = jest.spyOn(EVENT_SCHEMAS.InteractionUpdated, 'safeParse')));
  afterEach(() => safeParse.mockRestore());

  it('parses a checked event once: parseEvent of the same data object is the check', () => {
    const event = updated();
    const result = checkEvent(event);
    expect(result).toEqual({ checked: event });
    expect(parseEvent(event.type, event.data)).toBe((result as { checked: InteractionEvent }).checked);
    expect(safeParse).toHaveBeenCalledTimes(1);
  });

  it('parses the same data read back (another object) again, to the same event', () => {
    const event = updated();
    checkEvent(event);
    expect(parseEvent(event.type, JSON.parse(JSON.stringify(event.data)))).toEqual(event);
    expect(safeParse).toHaveBeenCalledTimes(2);
  });

  it('parses a checked data object named with another type as that type', () => {
    const event = updated();
    checkEvent(event);
    expect(() => parseEvent('InteractionLogged', event.data)).toThrow(InvalidEventError);
  });

  it('remembers nothing of an event that fails its schema', () => {
    const event = { type: 'InteractionUpdated', data: { schemaVersion: 1, interactionUuid: 'not a uuid', changes: {} } } as InteractionEvent;
    const result = checkEvent(event);
    expect('issues' in result && result.issues.length > 0).toBe(true);
    expect(() => parseEvent(event.type, event.data)).toThrow(InvalidEventError);
  });
});
