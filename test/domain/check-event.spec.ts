import { checkEvent, EVENT_SCHEMAS, InteractionEvent, InvalidEventError, parseChecked, parseEvent } from '../../src/domain/events';

/**
 * The write side's parse before append (checkEvent) answers parseChecked, the projection's parse, for the
 * same data object, so the inline projection of the append does not parse it again; data from anywhere
 * else is always parsed, and parseEvent (a host's, the history's) always parses.
 */
describe('checkEvent and parseChecked', () => {
  const interactionUuid = '0190d8a2-5a7e-7cc1-8f3e-1a2b3c4d5e6f';
  const updated = (): InteractionEvent => ({
    type: 'InteractionUpdated',
    data: { schemaVersion: 1, interactionUuid, changes: { subject: 'Renamed' } },
  });
  let safeParse: jest.SpyInstance;
  beforeEach(() => (safeParse = jest.spyOn(EVENT_SCHEMAS.InteractionUpdated, 'safeParse')));
  afterEach(() => safeParse.mockRestore());

  it('parses a checked event once: parseChecked of the same data object is the check', () => {
    const event = updated();
    const result = checkEvent(event);
    expect(result).toEqual({ checked: event });
    expect(parseChecked(event.type, event.data)).toBe((result as { checked: InteractionEvent }).checked);
    expect(safeParse).toHaveBeenCalledTimes(1);
  });

  it('leaves parseEvent as it was: a parse of its own, not the check', () => {
    const event = updated();
    const result = checkEvent(event);
    const parsed = parseEvent(event.type, event.data);
    expect(parsed).toEqual(event);
    expect(parsed).not.toBe((result as { checked: InteractionEvent }).checked);
    expect(safeParse).toHaveBeenCalledTimes(2);
  });

  it('parses the same data read back (another object) again, to the same event', () => {
    const event = updated();
    checkEvent(event);
    expect(parseChecked(event.type, JSON.parse(JSON.stringify(event.data)))).toEqual(event);
    expect(safeParse).toHaveBeenCalledTimes(2);
  });

  it('parses a checked data object named with another type as that type', () => {
    const event = updated();
    checkEvent(event);
    expect(() => parseChecked('InteractionLogged', event.data)).toThrow(InvalidEventError);
  });

  it('remembers nothing of an event that fails its schema, also after an earlier check of it passed', () => {
    const event = { type: 'InteractionUpdated', data: { schemaVersion: 1, interactionUuid: 'not a uuid', changes: {} } } as InteractionEvent;
    expect('issues' in checkEvent(event)).toBe(true);
    expect(() => parseChecked(event.type, event.data)).toThrow(InvalidEventError);
    const changed = updated();
    expect('checked' in checkEvent(changed)).toBe(true);
    (changed.data as { interactionUuid: string }).interactionUuid = 'not a uuid';
    expect('issues' in checkEvent(changed)).toBe(true);
    expect(() => parseChecked(changed.type, changed.data)).toThrow(InvalidEventError);
  });
});
