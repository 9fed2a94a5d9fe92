// Task functions for the word count example: the module the client bundles and ships to the nodes.

import { task } from "shoal";

/** A word: letters, with apostrophes inside ("don't", "licensee's"); numbers and punctuation are not words. */
const wordPattern = /\p{L}+(?:['’]\p{L}+)*/gu;

/**
 * Counts the words in a chunk of files, given as their text (the driver reads the files; see wordcount.ts
 * for why). Returns a Map, not a plain object: a word like "constructor" must not meet Object.prototype.
 */
export const countWords = task("wordcount.countWords", (texts: string[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const match of text.matchAll(wordPattern)) {
      const word = match[0].toLowerCase();
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
});
