/**
 * The keys by which `findUnresolvedParties` finds a free-text party: one pure rule, used both for the
 * keys the projection stores and for the values a query looks up, so the two can never disagree.
 */

const MARKS = /\p{M}+/gu;
const LETTER = /\p{L}/u;
/** The scripts whose combining marks are accents, breathings or optional vowel points. */
const ACCENTED_SCRIPTS = /[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Hebrew}\p{Script=Arabic}]/u;

/**
 * Combining marks stripped, but after a letter of another script than `ACCENTED_SCRIPTS`: there a mark
 * is part of the word (a Devanagari vowel sign makes बाल, "hair", another word than बिल, "bill"). A mark
 * that follows no letter goes too.
 */
function stripAccents(text: string): string {
  return text.replace(MARKS, (marks: string, offset: number) => {
    if (offset === 0) return '';
    const low = text.charCodeAt(offset - 1);
    const base = low >= 0xdc00 && low <= 0xdfff ? text.slice(offset - 2, offset) : text.slice(offset - 1, offset);
    return LETTER.test(base) && !ACCENTED_SCRIPTS.test(base) ? marks : '';
  });
}
const WHITESPACE = /\s+/gu;

/**
 * A name as it is matched: compatibility-decomposed (NFKD), combining marks (accents) stripped, lower
 * case, runs of whitespace as one space, trimmed. "  José   ÁLVAREZ " and "jose alvarez" share a key.
 */
export function partyNameKey(name: string): string {
  return foldCaseAndAccents(name).replace(WHITESPACE, ' ').trim();
}

/**
 * Lower-case letters that stand for others in a word's other forms (a final sigma, German ß, Turkish
 * dotless ı, the lower case of I in Turkish: "ışık" is found by "IŞIK"), and letters whose stroke or bar is their accent, with no
 * decomposition to strip it (ł, ø, đ, ħ, ŧ: "Łódź" is found by "lodz").
 */
const CASE_FOLDS = /[ςßıłøđħŧ]/gu;
const FOLDED: Record<string, string> = { ς: 'σ', ß: 'ss', ı: 'i', ł: 'l', ø: 'o', đ: 'd', ħ: 'h', ŧ: 't' };

/**
 * Compatibility-decomposed (NFKD), accents stripped (`stripAccents`), lower case, then the letters of
 * `CASE_FOLDS` as their plain ones (toLowerCase makes a word's last Σ a ς, so "ΟΔΟΣ" would not match
 * "Οδοστρωμα", nor "STRASSE" "Straße"): how text is matched. Migrations 0017 and 0021 re-fold rows
 * written before.
 */
export function foldCaseAndAccents(text: string): string {
  return stripAccents(text.normalize('NFKD'))
    .toLowerCase()
    .replace(CASE_FOLDS, (letter) => FOLDED[letter]!);
}

/** Characters that end an email address inside a raw name: "Dana <dana@acme.com>", "(dana@acme.com)". */
const SEPARATORS = /[\s<>()[\]{},;:"'`]+/u;
/** One `@`, something before it, and a domain with a dot that neither starts nor ends it. */
const EMAIL = /^[^@\s]+@[^@.\s]+(\.[^@.\s]+)+$/u;

/** An email address as it is matched: trimmed, lower case; null when `value` is not one address. */
export function emailKey(value: string): string | null {
  const key = value.trim().toLowerCase();
  return EMAIL.test(key) ? key : null;
}

/**
 * The email addresses written inside a raw name, lower case, each once, in order: the tokens between
 * spaces and brackets that look like an address (a sentence's full stop after one is not part of it).
 */
export function emailKeysIn(rawName: string): string[] {
  if (!rawName.includes('@')) return [];
  const keys = new Set<string>();
  for (const token of rawName.split(SEPARATORS)) {
    const key = emailKey(token.replace(/\.+$/u, ''));
    if (key !== null) keys.add(key);
  }
  return [...keys];
}
