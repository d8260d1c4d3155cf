/**
 * The keys by which `findUnresolvedParties` finds a free-text party: one pure rule, used both for the
 * keys the projection stores and for the values a query looks up, so the two can never disagree.
 */

const COMBINING_MARKS = /\p{M}/gu;
const WHITESPACE = /\s+/gu;

/**
 * A name as it is matched: compatibility-decomposed (NFKD), combining marks (accents) stripped, lower
 * case, runs of whitespace as one space, trimmed. "  José   ÁLVAREZ " and "jose alvarez" share a key.
 */
export function partyNameKey(name: string): string {
  return foldCaseAndAccents(name).replace(WHITESPACE, ' ').trim();
}

/** Lower-case letters that stand for others in a word's other forms (a final sigma, German ß). */
const CASE_FOLDS = /[ςß]/gu;
const FOLDED: Record<string, string> = { ς: 'σ', ß: 'ss' };

/**
 * Compatibility-decomposed (NFKD), combining marks (accents) stripped, lower case, then a final sigma as
 * σ and ß as ss (toLowerCase makes a word's last Σ a ς, so "ΟΔΟΣ" would not match "Οδοστρωμα", nor
 * "STRASSE" "Straße"): how text is matched. Migration 0017 re-folds rows written before.
 */
export function foldCaseAndAccents(text: string): string {
  return text
    .normalize('NFKD')
    .replace(COMBINING_MARKS, '')
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
