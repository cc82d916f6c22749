/**
 * How samples are split across the ranks of a data-parallel run, so that every sample is used
 * exactly once per epoch in total and nothing is padded or duplicated.
 */
import { ErrorCode, VptError } from '../errors.js';

export interface Shard {
  rank: number;
  worldSize: number;
}

function checkShard({ rank, worldSize }: Shard): void {
  if (!(Number.isInteger(worldSize) && worldSize >= 1 && Number.isInteger(rank) && rank >= 0 && rank < worldSize)) {
    throw new VptError(ErrorCode.Option, `Invalid shard: rank ${rank} of a world of ${worldSize}`);
  }
}

/**
 * Rank `rank`'s contiguous part of one global training batch: the batch is cut into
 * `worldSize` equal parts, so N ranks on batch b see exactly the batch of N*b one process sees.
 * @example shardBatch([0, 1, 2, 3, 4, 5], { rank: 1, worldSize: 3 })  // [2, 3]
 */
export function shardBatch<T>(batch: readonly T[], shard: Shard): T[] {
  checkShard(shard);
  if (batch.length % shard.worldSize !== 0) {
    throw new VptError(
      ErrorCode.Option,
      `A batch of ${batch.length} cannot be split evenly over ${shard.worldSize} ranks`,
    );
  }
  const b = batch.length / shard.worldSize;
  return batch.slice(shard.rank * b, (shard.rank + 1) * b);
}

/**
 * Rank `rank`'s samples of an evaluation split: every worldSize-th sample from `rank` on. The
 * parts differ by at most one sample and are never padded, so summed metrics are exact.
 * @example shardSamples(['a', 'b', 'c', 'd', 'e'], { rank: 1, worldSize: 2 })  // ['b', 'd']
 */
export function shardSamples<T>(items: readonly T[], shard: Shard): T[] {
  checkShard(shard);
  return items.filter((_, i) => i % shard.worldSize === shard.rank);
}
