/** Selection reads val only (a test metric that throws when read is never touched), by the last or best epoch, ties to the smaller lr. */
import { describe, expect, it } from 'vitest';

import type { EpochMetrics } from '../../lib/train/run-folder.js';
import { selectTrial } from '../../lib/tune/select-trial.js';
import type { TrialRecord } from '../../lib/tune/trial-record.js';
import { scriptedMetrics } from '../helpers/scripted-trainer.js';

/** Epoch metrics whose `test` throws when read: a selection that looks at test fails. */
function poisoned(m: EpochMetrics): EpochMetrics {
  return Object.defineProperty({ ...m }, 'test', {
    enumerable: true,
    get() {
      throw new Error('selection read test');
    },
  });
}

function record(
  index: number,
  baseLr: number,
  vals: number[],
  status: TrialRecord['status'] = 'finished',
): TrialRecord {
  return {
    id: `t${index}`,
    index,
    baseLr,
    scaledLr: baseLr,
    weightDecay: 0,
    promptTokens: 5,
    deep: false,
    status,
    epochs: vals.map((v, i) => poisoned(scriptedMetrics(i + 1, v))),
  };
}

describe('selectTrial', () => {
  const records = [
    record(0, 10, [0.2, 0.9, 0.5]),
    record(1, 1, [0.3, 0.6, 0.7]),
    record(2, 0.1, [0.1, 0.2, 0.7]),
    record(3, 5, [0.95], 'pruned'),
    record(4, 2, [0.99, 0.99], 'failed'),
  ];

  it("'last' takes the last epoch's val top-1, ties to the smaller lr, finished trials only, never reading test", () => {
    expect(selectTrial(records, 'last')!.id).toBe('t2');
  });

  it("'best' takes the best epoch's val top-1", () => {
    expect(selectTrial(records, 'best')!.id).toBe('t0');
  });

  it('chooses nothing when no trial finished with a finite val top-1', () => {
    expect(selectTrial([record(0, 1, [Number.NaN]), record(1, 1, [0.5], 'failed')], 'last')).toBeUndefined();
  });
});
