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
/**
 * Chinese and Japanese are written without spaces between words: their characters (Han, kana and the
 * prolonged sound mark ー, each with its marks: が folds to か and a voicing mark) are searched by pairs.
 */
const CJK = '\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}\\u30fc';
const SEGMENTS = new RegExp(`(?:[${CJK}]\\p{M}*)+|[^${CJK}]+`, 'gu');
const CJK_CHARACTERS = new RegExp(`[${CJK}]\\p{M}*`, 'gu');
const HAS_CJK = new RegExp(`[${CJK}]`, 'u');
const STARTS_CJK = new RegExp(`^[${CJK}]`, 'u');
/** Longer words are cut (a lexeme must stay far below PostgreSQL's 2 kB), and still match by prefix. */
const MAX_WORD_CHARACTERS = 100;
/** A tsvector holds at most 1 MB: the distinct words of a huge body stop being added well before. */
const MAX_WORDS_BYTES = 512 * 1024;
/** A search of more words narrows nothing a user would notice; the rest are ignored. */
export const MAX_SEARCH_TERMS = 8; // words, or pairs of characters
export const MAX_SEARCH_CHARACTERS = 200;

/**
 * The words of a text as search compares them. A run of Chinese or Japanese characters gives its pairs of
 * neighbours, and in `stored` text its single characters too, so a search for 京 or 北京 finds
 * 我在北京工作 (a search's pairs must all be in the text: the usual bigram approximation of a phrase).
 * Letters of another script beside them are a word of their own (手机iPhone: "iphone").
 */
function wordsOf(text: string, stored: boolean): string[] {
  const words: string[] = [];
  for (const word of foldCaseAndAccents(text).match(WORDS) ?? []) {
    for (const segment of HAS_CJK.test(word) ? word.match(SEGMENTS)! : [word]) {
      if (!STARTS_CJK.test(segment)) {
        words.push(segment.length > MAX_WORD_CHARACTERS ? Array.from(segment).slice(0, MAX_WORD_CHARACTERS).join('') : segment);
        continue;
      }
      const characters = segment.match(CJK_CHARACTERS)!;
      characters.forEach((character, i) => {
        if (stored || characters.length === 1) words.push(character);
        if (i + 1 < characters.length) words.push(character + characters[i + 1]!);
      });
    }
  }
  return words;
}

/** The distinct words of an interaction's subject and body, joined by single spaces (what the row keeps). */
export function searchWordsOf(subject: string | null, body: string | null): string {
  const words = new Set<string>();
  let bytes = 0;
  for (const text of [subject, body]) {
    if (!text) continue;
    for (const word of wordsOf(text, true)) {
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
 * finds "Renewal pricing"), every pair of Chinese or Japanese characters be one of its pairs; null when
 * the search holds no word at all (then it filters nothing).
 */
export function searchQueryOf(search: string): string | null {
  const terms = [...new Set(wordsOf(search, false))].slice(0, MAX_SEARCH_TERMS);
  // Terms are letters, marks and digits only, so quoting them needs no escaping.
  return terms.length > 0 ? terms.map((term) => `'${term}':*`).join(' & ') : null;
}
