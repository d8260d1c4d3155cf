import fc from 'fast-check';
import { emailKey, emailKeysIn, foldCaseAndAccents, partyNameKey } from '../../src/domain/party-keys';
import { CJK_TEXT_0022 } from '../../projections/migrate';
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

  it('searches Chinese and Japanese, written without spaces, by pairs of characters', () => {
    expect(searchWordsOf('我在北京工作', null)).toBe('我 我在 在 在北 北 北京 京 京工 工 工作 作');
    expect(searchQueryOf('北京')).toBe("'北京':*");
    expect(searchQueryOf('京')).toBe("'京':*"); // a character alone: found wherever it stands
    expect(searchQueryOf('北京工作')).toBe("'北京':* & '京工':* & '工作':*");
    // Letters of another script beside them are a word of their own; halfwidth katakana fold to fullwidth.
    expect(searchWordsOf('手机iPhone', 'ｺｰﾋｰ')).toBe('手 手机 机 iphone コ コー ー ーヒ ヒ ヒー');
    expect(searchQueryOf('コーヒー iphone')).toBe("'コー':* & 'ーヒ':* & 'ヒー':* & 'iphone':*");
    // A voiced kana folds to its base and a voicing mark, which stays with it: が is not か.
    expect(searchQueryOf('がく')).toBe(`'${'がく'.normalize('NFKD')}':*`);
    expect(searchWordsOf('かく', null).split(' ')).not.toContain('がく'.normalize('NFKD'));
  });

  it('finds any run of Chinese or Japanese inside a text by its pairs', () => {
    const character = fc.constantFrom(...'北京工作我在的学生们東京都庁コーヒーが好きｺｰﾋｰ々〇ー');
    fc.assert(
      fc.property(fc.array(character, { minLength: 1, maxLength: 24 }), fc.nat(), fc.nat(), (characters, a, b) => {
        const text = characters.join('');
        const [from, to] = [a % characters.length, b % characters.length].sort((x, y) => x - y) as [number, number];
        const words = searchWordsOf(`Note: ${text}.`, null).split(' ');
        for (const term of (searchQueryOf(characters.slice(from, to + 1).join('')) ?? '').match(/'[^']+'/g) ?? []) {
          expect(words).toContain(term.slice(1, -1));
        }
      }),
      { seed: 20261203, numRuns: 1000 },
    );
  });

  it("migration 0022's filter holds every character that folds to a Han or kana one (so its rows are read again)", () => {
    const cjk = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\u30fc]/u;
    const filter = new RegExp(CJK_TEXT_0022, 'u');
    const missed: string[] = [];
    for (let code = 0; code <= 0x10ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const character = String.fromCodePoint(code);
      if (cjk.test(foldCaseAndAccents(character)) && !filter.test(character)) missed.push(code.toString(16));
    }
    expect(missed).toEqual([]);
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
