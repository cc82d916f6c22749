/**
 * A tune spread over two ranks (two process groups in one process, joined through c10d's
 * TCPStore as `tune --nproc 2` ranks join) writes the trials and summary one process writes, with
 * halving's rungs continued or restarted.
 */
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { freePort } from '../../lib/distributed/local-launcher.js';
import { type TuneConfig, type TuneSummary, tune } from '../../lib/tune/tune.js';
import { smallTune, steady, trialsOf, useTuneTask } from '../helpers/tune-task.js';

const task = useTuneTask();

const timeless = ({ seconds: _s, final, ...rest }: TuneSummary) => ({
  ...rest,
  final: final.map(({ out: _o, ...f }) => f),
});
describe('tune over ranks', () => {
  it.each([
    ['continue', ''],
    ['restart', ' (halving over restarted rungs, whose stages make their trials as they go)'],
  ] as const)(
    '2 ranks, rungSchedule %s: the same trials, choice and final runs as one process%s',
    async (rungSchedule, _why) => {
      const config = (out: string): TuneConfig => ({
        rungSchedule,
        ...smallTune(task, join(task.dir, out)),
        prune: 'halving',
        rungs: [1],
        keep: 0.5,
        groupSize: 1,
        seeds: 2,
        epochs: 2,
      });
      const one = await tune(config(`one-${rungSchedule}`), { distributed: null });
      const port = await freePort();
      const env = { worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, glooInterface: '' };
      const events: string[][] = [[], []];
      const [rank0, rank1] = await Promise.all(
        [0, 1].map((rank) =>
          tune(config(`two-${rungSchedule}`), {
            distributed: { ...env, rank, localRank: rank },
            onProgress: (e) => events[rank]!.push(e.type),
          }),
        ),
      );
      expect(timeless(rank0!)).toEqual(timeless(one));
      expect(timeless(rank1!)).toEqual(timeless(one));
      const trials = steady(await trialsOf(join(task.dir, `one-${rungSchedule}`)));
      expect(steady(await trialsOf(join(task.dir, `two-${rungSchedule}`)))).toEqual(trials);
      if (rungSchedule === 'restart') expect(trials.filter((t) => t.status === 'promoted')).toHaveLength(3);
      // Rank 0 alone reports.
      expect(events[0]).toContain('done');
      expect(events[1]).toEqual([]);
    },
    120_000,
  );
});
