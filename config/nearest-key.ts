// Suggests the known key a misspelt one was probably meant to be ("vendor" → "vendors"), for every config nicplex reads.

/** Levenshtein distance, case-insensitive (config keys differ in meaning, not in case). */
export function editDistance(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let i = 1; i <= left.length; i++) {
    const current = [i];
    for (let j = 1; j <= right.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (left[i - 1] === right[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[right.length] ?? 0;
}

/** The closest known key, or null when nothing is close enough to be a plausible typo. */
export function nearestKey(unknown: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  const limit = Math.max(2, Math.floor(unknown.length / 3));
  for (const candidate of known) {
    // The distance is at least the length difference: a key far longer than every known one (a hostile or
    // corrupt config) costs nothing instead of a length × length table per known key.
    if (Math.abs(unknown.length - candidate.length) > limit) continue;
    const distance = editDistance(unknown, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : null;
}
