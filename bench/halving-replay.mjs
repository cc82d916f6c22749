// Replays successive halving on the per-epoch val metrics of a finished `tune --prune none`
// (its trials.jsonl), through the search's own code (runSearch with a trainer that hands back the
// recorded epochs): what each pruning setting would have trained and chosen. Exact, because a
// trial trains the same whichever other trials share its group (tested to 1e-6), so its first
// epochs in a pruned search are the full grid's.
//   npm run build:ts && node bench/halving-replay.mjs <tune-folder> [--rungs 2,3] [--keep 0.3333] [--rank-by top1|loss|mean2|mean3]
// Prints one JSON line: config-epochs, the chosen trial, its val top-1 and the full grid's best,
// with the val split's binomial standard error at the best's top-1 and how many configs end within
// it of the best (configs the val split cannot tell apart from the best).
// --rank-by other than top1 (the search's rule: val top-1 at the rung, ties to the lower val loss)
// ranks a rung's entrants with a rule the search does not have, in a re-implementation of
// successive halving below: loss = the lower val loss at the rung; meanW = the mean val top-1 over
// the W epochs up to the rung. The re-implementation is checked against runSearch with top1 on the
// same records first (it throws if they differ).
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
const { keptAt } = await import(join(dist, 'halving.js'));

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rungs: { type: 'string' },
    keep: { type: 'string' },
    'rank-by': { type: 'string', default: 'top1' },
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
  // Replays halving over continued rungs: a restarted rung's runs are not in a grid's records.
  rungSchedule: 'continue',
  select: settings.select,
  seeds: 0,
  ...(values.keep ? { keep: Number(values.keep) } : {}),
  ...(values.rungs ? { rungs: values.rungs.split(',').map(Number) } : {}),
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
const searched = {
  chosen: selectTrial(log.records, t.settings.select),
  configEpochs: log.records.reduce((n, r) => n + r.epochs.length, 0),
};

/**
 * Successive halving on the recorded epochs with `score(record, rung)` (higher first; ties: lower
 * val loss, smaller lr, earlier grid point), then VPT's selection among the configs that finish.
 */
function halve(score) {
  const epochs = t.base.epochs;
  const records = t.trials.map((spec) => ({ ...byId.get(spec.id), epochs: byId.get(spec.id).epochs.slice(0, epochs) }));
  const loss = (r, e) => (Number.isFinite(r.epochs[e - 1]?.val?.loss) ? r.epochs[e - 1].val.loss : Infinity);
  let alive = records;
  const trained = new Map(records.map((r) => [r.id, 0]));
  for (const rung of t.rungs) {
    for (const r of alive) trained.set(r.id, rung);
    const s = (r) => (Number.isFinite(score(r, rung)) ? score(r, rung) : -Infinity);
    const ranked = [...alive].sort(
      (a, b) => s(b) - s(a) || loss(a, rung) - loss(b, rung) || a.baseLr - b.baseLr || a.index - b.index,
    );
    alive = ranked.slice(0, keptAt(alive.length, t.settings.keep));
  }
  for (const r of alive) trained.set(r.id, epochs);
  return {
    chosen: selectTrial(
      alive.map((r) => ({ ...r, status: 'finished' })),
      t.settings.select,
    ),
    configEpochs: [...trained.values()].reduce((n, e) => n + e, 0),
  };
}
const top1At = (r, e) => r.epochs[e - 1]?.val?.top1;
const meanTop1 = (w) => (r, rung) => {
  const xs = r.epochs.slice(Math.max(0, rung - w), rung).map((m) => m.val?.top1);
  return xs.reduce((a, x) => a + x, 0) / xs.length;
};
const rules = { top1: top1At, loss: (r, e) => -(r.epochs[e - 1]?.val?.loss ?? Infinity) };
const rankBy = values['rank-by'];
if (/^mean[1-9]$/.test(rankBy)) rules[rankBy] = meanTop1(Number(rankBy.slice(4)));
if (!rules[rankBy]) throw new Error(`--rank-by ${rankBy}: expected top1, loss or meanW (W = 1..9)`);
const check = halve(top1At);
if (check.chosen?.id !== searched.chosen?.id || check.configEpochs !== searched.configEpochs) {
  throw new Error(`the re-implementation differs from runSearch: ${JSON.stringify([check, searched])}`);
}
const result = rankBy === 'top1' ? searched : halve(rules[rankBy]);
const chosen = result.chosen;
const gridBest = selectTrial(
  recorded.map((r) => ({ ...r, status: 'finished' })),
  t.settings.select,
);
const pct = (x) => Math.round(1000 * x) / 10;
const best = selectionScore(gridBest, t.settings.select);
const valCount = gridBest?.epochs.at(-1)?.val?.count;
const stdErr = valCount ? Math.sqrt((best * (1 - best)) / valCount) : undefined;
console.log(
  JSON.stringify({
    label: values.label ?? null,
    rankBy,
    rungs: t.rungs,
    keep: t.settings.keep,
    configEpochs: result.configEpochs,
    gridEpochs: t.trials.length * t.base.epochs,
    chosen: chosen?.id,
    val: pct(selectionScore(chosen, t.settings.select)),
    gridBest: gridBest?.id,
    gridBestVal: pct(best),
    valImages: valCount ?? null,
    stdErrPoints: stdErr === undefined ? null : pct(stdErr),
    withinStdErrOfBest:
      stdErr === undefined
        ? null
        : recorded.filter((r) => best - selectionScore(r, t.settings.select) <= stdErr + 1e-12).length,
  }),
);
