import { foldCaseAndAccents } from './party-keys';

/**
 * Search over subject and body: one pure rule for the words the projection stores and the terms a query
 * looks for, so they cannot disagree. The database only compares lexemes (a `tsvector` built from these
 * words as they are, and a `tsquery` of quoted prefixes): no text search configuration, `unaccent` or
 * locale is involved, so PostgreSQL and PGlite answer alike.
 */

/**
 * A word is a run of letters and digits, with the marks folding keeps (a Devanagari vowel sign); anything
 * else separates words, and a mark that follows no letter (an emoji's variation selector) is none.
 */
const WORDS = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*/gu;
/** Longer words are cut (a lexeme must stay far below PostgreSQL's 2 kB), and still match by prefix. */
const MAX_WORD_CHARACTERS = 100;
/** A tsvector holds at most 1 MB: the distinct words of a huge body stop being added well before. */
const MAX_WORDS_BYTES = 512 * 1024;
/** A search of more words narrows nothing a user would notice; the rest are ignored. */
export const MAX_SEARCH_TERMS = 8;
export const MAX_SEARCH_CHARACTERS = 200;

function wordsOf(text: string): string[] {
  return (foldCaseAndAccents(text).match(WORDS) ?? [])
    .map((word) => (word.length > MAX_WORD_CHARACTERS ? Array.from(word).slice(0, MAX_WORD_CHARACTERS).join('') : word));
}

/** The distinct words of an interaction's subject and body, joined by single spaces (what the row keeps). */
export function searchWordsOf(subject: string | null, body: string | null): string {
  const words = new Set<string>();
  let bytes = 0;
  for (const text of [subject, body]) {
    if (!text) continue;
    for (const word of wordsOf(text)) {
      if (words.has(word)) continue;
      bytes += Buffer.byteLength(word) + 8;
      if (bytes > MAX_WORDS_BYTES) return [...words].join(' ');
      words.add(word);
    }
  }
  return [...words].join(' ');
}

/**
 * The tsquery text for a search: every word must start a word of the subject or body ("renew pri"
 * finds "Renewal pricing"); null when the search holds no word at all (then it filters nothing).
 */
export function searchQueryOf(search: string): string | null {
  const terms = [...new Set(wordsOf(search))].slice(0, MAX_SEARCH_TERMS);
  // Terms are letters, marks and digits only, so quoting them needs no escaping.
  return terms.length > 0 ? terms.map((term) => `'${term}':*`).join(' & ') : null;
}
