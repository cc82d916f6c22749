/**
 * Seeded, stratified subsets of a split: VPT's validation carved from train, few-shot training
 * sets (K per class) and percentage subsets (VPT's DATA.PERCENTAGE). Each class is shuffled by
 * its own generator (seed, class id[, purpose]), so a class's pick does not depend on the others.
 */
import { SeededRandom } from './seeded-random.js';

/** Distinguishes the generators of the few-shot and percentage picks from the validation carve. */
const SHOTS_KEY = 0x5107;
const PERCENT_KEY = 0x9e7c;

/** Item indices grouped by class, in item order. */
function byClass<T>(items: readonly T[], classOf: (item: T) => number): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  items.forEach((item, i) => {
    const c = classOf(item);
    const g = groups.get(c);
    if (g) g.push(i);
    else groups.set(c, [i]);
  });
  return groups;
}

/**
 * Indices picked per class: `count(n)` of a seeded shuffle of the class's n items (ascending class
 * id; generator keys `[seed, classId, ...extra]`).
 */
export function stratifiedPick<T>(
  items: readonly T[],
  classOf: (item: T) => number,
  count: (n: number, classId: number) => number,
  seed: number,
  extra: number[] = [],
): Set<number> {
  const groups = byClass(items, classOf);
  const picked = new Set<number>();
  for (const classId of [...groups.keys()].sort((a, b) => a - b)) {
    const indices = new SeededRandom(seed, classId, ...extra).shuffle([...groups.get(classId)!]);
    for (const i of indices.slice(0, count(indices.length, classId))) picked.add(i);
  }
  return picked;
}

/** VPT's validation carve: round(n * fraction) of each class, keeping at least one for training. */
export function carveVal<T>(
  items: readonly T[],
  classOf: (item: T) => number,
  fraction: number,
  seed: number,
): Set<number> {
  return stratifiedPick(items, classOf, (n) => Math.min(n - 1, Math.round(n * fraction)), seed);
}

/** K of each class (every class must have K; see `classesShort`). */
export function pickShots<T>(
  items: readonly T[],
  classOf: (item: T) => number,
  shots: number,
  seed: number,
): Set<number> {
  return stratifiedPick(items, classOf, (n) => Math.min(n, shots), seed, [SHOTS_KEY]);
}

/** Classes with fewer than `shots` items, with their sizes. */
export function classesShort<T>(
  items: readonly T[],
  classOf: (item: T) => number,
  shots: number,
): Array<[number, number]> {
  return [...byClass(items, classOf)]
    .filter(([, g]) => g.length < shots)
    .map(([c, g]) => [c, g.length] as [number, number])
    .sort((a, b) => a[0] - b[0]);
}

/** round(n * percentage) of each class, at least one. */
export function pickPercentage<T>(
  items: readonly T[],
  classOf: (item: T) => number,
  percentage: number,
  seed: number,
): Set<number> {
  return stratifiedPick(items, classOf, (n) => Math.max(1, Math.round(n * percentage)), seed, [PERCENT_KEY]);
}
