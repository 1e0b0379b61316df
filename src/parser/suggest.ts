/**
 * "Did you mean" suggestions by edit distance, as BuildKit's `suggest` package offers them for
 * instruction names, flags, mount keys and stage names.
 */

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of neighbours as one
 * edit each (optimal string alignment), so the common typo `cahce` is one edit from `cache`.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row[j] = d;
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The closest candidate, or undefined when none is close enough. "Close enough" scales with the
 * word's length (a third of it, at least one edit; none for words under three characters), so
 * `FNTRYPOINT` finds `ENTRYPOINT` but `X` finds nothing.
 */
export function suggest(word: string, candidates: Iterable<string>, caseSensitive = false): string | undefined {
  const w = caseSensitive ? word : word.toLowerCase();
  if (!w) return undefined;
  const limit = w.length < 3 ? 0 : Math.max(1, Math.floor(w.length / 3));
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const cc = caseSensitive ? c : c.toLowerCase();
    if (cc === w) continue;
    const d = editDistance(w, cc);
    if (d <= limit && d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

/** `message (did you mean x?)` when a suggestion exists. */
export function withSuggestion(message: string, word: string, candidates: Iterable<string>, caseSensitive = false): { message: string; suggestion?: string } {
  const s = suggest(word, candidates, caseSensitive);
  return s === undefined ? { message } : { message: `${message} (did you mean ${s}?)`, suggestion: s };
}
