// Replays successive halving on the per-epoch val metrics of a finished `tune --prune none`
// (its trials.jsonl), through the search's own code (runSearch with a trainer that hands back the
// recorded epochs): what each pruning setting would have trained and chosen. Exact, because a
// trial trains the same whichever other trials share its group (tested to 1e-6), so its first
// epochs in a pruned search are the full grid's.
//   npm run build:ts && node bench/halving-replay.mjs <tune-folder> [--rungs 2,3] [--keep 0.3333] [--min-rung-fraction f] [--rank-by last|best|mean2]
// Prints one JSON line: config-epochs, the chosen trial, its val top-1 and the full grid's best.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist', 'lib', 'tune');
const { runSearch } = await import(join(dist, 'run-search.js'));
const { TrialLog } = await import(join(dist, 'trial-log.js'));
const { resolveTuneConfig } = await import(join(dist, 'tune-config.js'));
const { selectTrial } = await import(join(dist, 'select-trial.js'));
const { selectionScore } = await import(join(dist, 'trial-record.js'));

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rungs: { type: 'string' },
    keep: { type: 'string' },
    'min-rung-fraction': { type: 'string' },
    'rank-by': { type: 'string' },
    label: { type: 'string' },
  },
});
const folder = positionals[0];
if (!folder) throw new Error('usage: node bench/halving-replay.mjs <tune-folder of a --prune none tune> [options]');
const search = JSON.parse(await readFile(join(folder, 'tune.json'), 'utf8'));
const recorded = (await readFile(join(folder, 'trials.jsonl'), 'utf8'))
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const byId = new Map(recorded.map((r) => [r.id, r]));

const { base, axes, settings } = search;
const config = {
  ...base,
  grid: { lr: axes.lr, wd: axes.wd, promptTokens: axes.promptTokens, deep: axes.deep },
  prune: 'halving',
  select: settings.select,
  seeds: 0,
  ...(values.keep ? { keep: Number(values.keep) } : {}),
  ...(values.rungs ? { rungs: values.rungs.split(',').map(Number) } : {}),
  ...(values['min-rung-fraction'] ? { minRungFraction: Number(values['min-rung-fraction']) } : {}),
  ...(values['rank-by'] ? { rankBy: values['rank-by'] } : {}),
};
for (const key of ['baseLr', 'weightDecay', 'resume']) delete config[key];
const t = resolveTuneConfig(config, (id) => id);

const replay = {
  groupSize: t.trials.length,
  async train(runs, until, events) {
    for (const run of runs) {
      const epochs = byId.get(run.spec.id)?.epochs ?? [];
      for (let e = run.epochsDone; e < until; e++) {
        if (!epochs[e]) {
          await events.failed(run.spec.id, `no epoch ${e + 1} recorded`);
          break;
        }
        await events.epoch(run.spec.id, epochs[e]);
      }
    }
  },
};
const log = await TrialLog.open('/dev/null', t.trials);
log.save = async () => {};
await runSearch(t, log, replay);
const chosen = selectTrial(log.records, t.settings.select);
const gridBest = selectTrial(
  recorded.map((r) => ({ ...r, status: 'finished' })),
  t.settings.select,
);
const pct = (x) => Math.round(1000 * x) / 10;
console.log(
  JSON.stringify({
    label: values.label ?? null,
    rungs: t.rungs,
    keep: t.settings.keep,
    configEpochs: log.records.reduce((n, r) => n + r.epochs.length, 0),
    gridEpochs: t.trials.length * t.base.epochs,
    chosen: chosen?.id,
    val: pct(selectionScore(chosen, t.settings.select)),
    gridBest: gridBest?.id,
    gridBestVal: pct(selectionScore(gridBest, t.settings.select)),
  }),
);
