import fc from 'fast-check';
import { emailKey, emailKeysIn, partyNameKey } from '../../src/domain/party-keys';
import { searchQueryOf, searchWordsOf } from '../../src/domain/search';
import { validateLinkRef, validatePosition, validateUnresolvedFilter } from '../../src/domain/late-linking';

describe('partyNameKey: the one rule for stored and looked-up name keys', () => {
  it.each([
    ['José Álvarez', 'jose alvarez'],
    ['  JOSÉ   álvarez  ', 'jose alvarez'],
    ['Zoë\tNuñez\nGarcía', 'zoe nunez garcia'],
    ['Ｄａｎａ', 'dana'], // full-width letters: NFKD's compatibility mapping
    ['ﬁona', 'fiona'], // a ligature
    ['Dana from Acme', 'dana from acme'],
    // Letters whose stroke is their accent, and Turkish dotless ı, read as their plain letter.
    ['Łukasz Øre Đorđe IŞIK ışık', 'lukasz ore dorde isik isik'],
    // Where a mark is part of the word (a Devanagari vowel sign), it stays.
    ['बाल बिल', 'बाल बिल'],
    ['Ångström', 'angstrom'],
    ['ΟΔΟΣ Οδός', 'οδοσ οδοσ'], // a final sigma: toLowerCase gives ς at a word's end, σ elsewhere
    ['Straße STRASSE', 'strasse strasse'],
  ])('%j → %j', (name, key) => {
    expect(partyNameKey(name)).toBe(key);
  });

  it('is idempotent on any text, and a folded search term is found among the folded words of its own text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (text) => {
        expect(partyNameKey(partyNameKey(text))).toBe(partyNameKey(text));
        const words = searchWordsOf(text, null).split(' ');
        for (const term of (searchQueryOf(text) ?? '').match(/'[^']+'/g) ?? []) expect(words).toContain(term.slice(1, -1));
      }),
      { seed: 20261203, numRuns: 2000 },
    );
  });

  it('is idempotent, and blank names have the empty key', () => {
    for (const name of ['José  Álvarez', 'ÉÈÊË', 'Müller']) expect(partyNameKey(partyNameKey(name))).toBe(partyNameKey(name));
    expect(partyNameKey(' \t ')).toBe('');
    expect(partyNameKey('\u0301')).toBe('');
  });
});

describe('search words and terms: folded as name keys are', () => {
  it('finds a word by a prefix whatever its case, also where a capital Σ ends the prefix or ß stands for ss', () => {
    expect(searchWordsOf('Οδοστρωμα Straße', null)).toBe('οδοστρωμα strasse');
    expect(searchQueryOf('ΟΔΟΣ STRASSE')).toBe("'οδοσ':* & 'strasse':*");
    expect(searchQueryOf('straß')).toBe("'strass':*");
  });

  it('keeps a word whole with the marks that are part of it, and makes no word of a mark alone', () => {
    expect(searchWordsOf('Meeting in Łódź with Søren', 'किताब बाल')).toBe('meeting in lodz with soren किताब बाल');
    expect(searchQueryOf('LODZ soren')).toBe("'lodz':* & 'soren':*");
    expect(searchQueryOf('बिल')).toBe("'बिल':*"); // not 'बल', which बाल would match too
    expect(searchWordsOf('Thanks ❤️ 👍🏽', null)).toBe('thanks'); // a variation selector follows no letter
    expect(searchQueryOf('❤️')).toBeNull();
  });
});

describe('emailKeysIn: the addresses inside a raw name', () => {
  it.each([
    ['Dana Scott <Dana.Scott@Acme.com>', ['dana.scott@acme.com']],
    ['dana@acme.com.', ['dana@acme.com']],
    ['(dana@acme.co.uk), bob@x.io; DANA@ACME.CO.UK', ['dana@acme.co.uk', 'bob@x.io']],
    ['"sam"@example.com', []],
    ['Dana from Acme', []],
    ['dana@localhost', []],
    ['@acme.com', []],
    ['a@b@c.com', []],
  ])('%j → %j', (rawName, keys) => {
    expect(emailKeysIn(rawName)).toEqual(keys);
  });

  it('emailKey takes one whole address, trimmed and lower case', () => {
    expect(emailKey('  Dana@Acme.COM ')).toBe('dana@acme.com');
    expect(emailKey('acme.com')).toBeNull();
    expect(emailKey('dana @acme.com')).toBeNull();
  });
});

describe('late linking input', () => {
  const UUID = '01900000-0000-7000-8000-0000000000A1';
  it('a position is a non-negative safe integer', () => {
    expect(validatePosition(0)).toEqual({ ok: true, value: 0 });
    for (const bad of [-1, 0.5, '1', null, undefined, Infinity, 2 ** 53]) {
      expect(validatePosition(bad)).toEqual({ ok: false, errors: { position: ['must be a non-negative integer'] } });
    }
  });

  it('a ref names exactly one of a contact and a staff person, by uuid (lower-cased)', () => {
    expect(validateLinkRef({ contactUuid: UUID })).toEqual({ ok: true, value: { contactUuid: UUID.toLowerCase(), staffPersonUuid: null } });
    expect(validateLinkRef({ contactUuid: '', staffPersonUuid: UUID })).toEqual({
      ok: true,
      value: { contactUuid: null, staffPersonUuid: UUID.toLowerCase() },
    });
    expect(validateLinkRef({ contactUuid: UUID, staffPersonUuid: UUID })).toMatchObject({ errors: { contactUuid: ['cannot resolve to both a contact and a staff person'] } });
    expect(validateLinkRef({})).toMatchObject({ errors: { ref: ['must have a contactUuid or a staffPersonUuid'] } });
    expect(validateLinkRef({ staffPersonUuid: 7 })).toMatchObject({ errors: { staffPersonUuid: ['is not a valid UUID'] } });
    expect(validateLinkRef('x')).toMatchObject({ errors: { ref: ['must be an object'] } });
  });

  it('a filter has a name or an email, as keys', () => {
    expect(validateUnresolvedFilter({ name: ' Dána ' })).toEqual({ ok: true, value: { nameKey: 'dana', emailKey: null } });
    expect(validateUnresolvedFilter({ email: 'A@B.io' })).toEqual({ ok: true, value: { nameKey: null, emailKey: 'a@b.io' } });
    expect(validateUnresolvedFilter({ name: '', email: null })).toMatchObject({ errors: { name: ['or email is required'] } });
    expect(validateUnresolvedFilter({ name: 'a\u0000' })).toMatchObject({ errors: { name: ['must not contain NUL or invalid characters'] } });
  });
});
