// VPT's default 36-config prompt grid (lr x wd), four ways, on the synthetic CUB-layout data
// and a tiny random ViT (the demo's), on the CPU:
//   (a) 36 sequential `vpt-native train` processes (what KMnP/vpt's tune scripts do);
//   (b) `vpt-native tune --prune none` (one process, groups of configs on one loader pass);
//   (c) `vpt-native tune --prune halving --rung-schedule continue` (successive halving on val
//       top-1, ranking the configs mid-way through their full schedule);
//   (c') `vpt-native tune --prune halving --rung-schedule restart` (the default: halving over
//        budget-complete rungs, each training complete runs of its length from scratch,
//        lib/tune/rung-schedule.ts).
// Reports wall time of the search, config-epochs trained, the chosen config with its val top-1
// and the test top-1 of its final run (seed 42), and the host memory one more trial model takes.
// (c)'s halving uses the defaults: keep 1/3, rungs epochs x (1/3)^k moved to the grace period
// (warmup + 1 epochs), equal val top-1 at a rung to the lower val loss. (c') the same rule and
// keep, its default rungs epochs x (1/3)^k without the grace period.
//   npm run build:ts && node bench/tune-grid.mjs [epochs=9] [imagesPerClass=20] [classes=5] [--tune-only]
//     [--grid-only] [--val-fraction 0.2] [--synth-seed 7] [--noise 24] [--hue-jitter 0.03] [--sequential-configs 36]
//     [--ways b,c,r,a] [--reuse <bench folder>] [--stacked-step auto|on|off]
// (--ways: which of (b), (c), (c') = r and (a) to run (default all; (a) runs last);
//  --reuse: the data and backbone of an earlier bench folder (epochs from its none/tune.json, the
//  positionals and data flags ignored), its (b) read from none/ when --ways leaves b out; new ways
//  write beside it. (c')'s finished trials are checked against (b)'s trials of the same configs;
//  --stacked-step: passed to every tune (default: tune's own, auto);
//  --tune-only: (b), (c) and (c') alone, e.g. to judge halving's choice on a larger val split;
//  --grid-only: (b) alone, a --prune none grid to replay with bench/halving-replay.mjs;
//  --val-fraction: of the train split carved into val by convertCub; --synth-seed, --noise,
//  --hue-jitter: synthesizeCub's seed and difficulty options, defaults as before;
//  --sequential-configs k: (a) trains only k of the 36 configs, spread over the grid, and its
//  time is extrapolated x 36/k: for data where 36 train processes take too long. (a) then
//  chooses nothing; each run's last val top-1 is printed next to (b)'s trial of that config.)
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const cli = join(dist, 'bin', 'launch.cjs');
const { synthesizeCub } = await import(join(dist, 'lib/data/synth.js'));
const { convertCub } = await import(join(dist, 'lib/data/convert-cub.js'));
const { writeRandomBackbone, DEMO_BACKBONE } = await import(join(dist, 'lib/demo/random-backbone.js'));
const { DEFAULT_GRIDS } = await import(join(dist, 'lib/tune/default-grid.js'));
const { createModel, createModelSharingBackbone } = await import(join(dist, 'lib/model/create-model.js'));

const { values: flags, positionals: positional } = parseArgs({
  allowPositionals: true,
  options: {
    'tune-only': { type: 'boolean', default: false },
    'grid-only': { type: 'boolean', default: false },
    'val-fraction': { type: 'string', default: '0.2' },
    'synth-seed': { type: 'string', default: '7' },
    noise: { type: 'string', default: '24' },
    'hue-jitter': { type: 'string', default: '0.03' },
    'sequential-configs': { type: 'string', default: '36' },
    ways: { type: 'string' },
    reuse: { type: 'string' },
    'stacked-step': { type: 'string' },
  },
});
const reuse = flags.reuse;
const reused = reuse ? JSON.parse(await readFile(join(reuse, 'none', 'tune.json'), 'utf8')) : undefined;
const reusedSynth = reuse ? JSON.parse(await readFile(join(reuse, 'CUB_200_2011', 'synth.json'), 'utf8')) : undefined;
const epochs = reused ? reused.base.epochs : Number(positional[0] ?? 9);
const imagesPerClass = reused ? reusedSynth.imagesPerClass : Number(positional[1] ?? 20);
const classes = reused ? reusedSynth.classes : Number(positional[2] ?? 5);
const gridOnly = flags['grid-only'];
const tuneOnly = flags['tune-only'] || gridOnly;
const ways = new Set((flags.ways ?? (gridOnly ? 'b' : tuneOnly ? 'b,c,r' : 'b,c,r,a')).split(','));
const dir = reuse ?? (await mkdtemp(join(tmpdir(), 'vpt-tune-bench-')));
const data = join(dir, 'CUB_200_2011');
let weights = join(dir, 'backbone');
if (!reuse) {
  await synthesizeCub(data, {
    classes,
    imagesPerClass,
    imageSize: 48,
    seed: Number(flags['synth-seed']),
    noise: Number(flags.noise),
    hueJitter: Number(flags['hue-jitter']),
  });
  const { counts } = await convertCub(data, { valFraction: Number(flags['val-fraction']), seed: 1 });
  console.log(`data: ${JSON.stringify(counts)} images (${classes} classes) in ${data}`);
  weights = await writeRandomBackbone(join(dir, 'backbone'), DEMO_BACKBONE);
} else {
  console.log(
    `data and backbone of ${reuse} (${classes} classes x ${imagesPerClass}, synth seed ${reusedSynth.seed}), ${epochs} epochs`,
  );
}
const shared = [
  '--data',
  data,
  '--weights',
  weights,
  '--epochs',
  String(epochs),
  '--warmup-epochs',
  '1',
  '--batch-size',
  '32',
  '--crop-size',
  '32',
  '--prompt-tokens',
  '5',
  '--device',
  'cpu',
  '--seed',
  '42',
];
const tuneFlags = flags['stacked-step'] ? ['--stacked-step', flags['stacked-step']] : [];
const pct = (x) => (x === null || x === undefined ? 'n/a' : (100 * x).toFixed(1));
const rows = [];

/** Runs `tune` with --json; the search's time ends at the 'chosen' event (the final run follows). */
function tuneRun(out, prune, extra = []) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let searchSeconds;
    const child = spawn(
      process.execPath,
      [cli, 'tune', ...shared, ...tuneFlags, ...extra, '--out', out, '--prune', prune, '--seeds', '1', '--json'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        if (line.startsWith('{"type":"chosen"')) searchSeconds = (performance.now() - t0) / 1000;
      }
    });
    child.on('exit', async (code) => {
      if (code !== 0) return reject(new Error(`tune exited with ${code}`));
      resolve({ searchSeconds, summary: JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) });
    });
  });
}

const readTrials = async (folder) =>
  (await readFile(join(folder, 'trials.jsonl'), 'utf8').catch(() => ''))
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

let fullGridBest;
for (const [key, way, prune, folder, extra] of [
  ['b', '(b) tune --prune none', 'none', 'none', []],
  ['c', '(c) tune --prune halving --rung-schedule continue', 'halving', 'halving', ['--rung-schedule', 'continue']],
  ['r', "(c') tune --prune halving --rung-schedule restart", 'halving', 'restart', ['--rung-schedule', 'restart']],
]) {
  const out = join(dir, folder);
  const earlier = key === 'b' && reuse && !ways.has('b');
  if (!ways.has(key) && !earlier) continue;
  const { searchSeconds, summary } = earlier
    ? { searchSeconds: NaN, summary: JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) }
    : await tuneRun(out, prune, extra);
  if (prune === 'none') {
    fullGridBest = summary.valTop1;
    console.log(`full grid's tune folder (for bench/halving-replay.mjs): ${out}${earlier ? ' (an earlier run)' : ''}`);
  }
  if (key === 'r' && fullGridBest !== undefined) {
    // A restarted search's last stage trains the full schedule, as the grid's trial of the same config.
    const grid = new Map((await readTrials(join(dir, 'none'))).map((t) => [t.id, t]));
    for (const t of (await readTrials(out)).filter((x) => x.status === 'finished')) {
      const g = grid.get(t.id);
      const val = (r) => r?.epochs.map((m) => [m.val.top1, m.val.loss]);
      const same = JSON.stringify(val(t)) === JSON.stringify(val(g));
      const top1 = g && t.epochs.every((m, e) => m.val.top1 === g.epochs[e]?.val.top1);
      console.log(
        `(c') ${t.id}: last val top-1 ${pct(t.epochs.at(-1)?.val.top1)}, (b)'s ${pct(g?.epochs.at(-1)?.val.top1)}; every epoch's val top-1 and loss ${same ? 'equal' : top1 ? 'top-1 equal, loss differs' : 'DIFFER'}`,
      );
    }
  }
  rows.push({
    way,
    seconds: searchSeconds,
    configEpochs: summary.trialEpochs,
    chosen: `lr ${summary.chosen.baseLr} wd ${summary.chosen.weightDecay}`,
    val: summary.valTop1,
    test: summary.testTop1Mean,
  });
  console.log(JSON.stringify(rows.at(-1)));
}

// (a) one train process per config (run last: the tune rows come first if the bench is cut short).
async function sequentialTrains() {
  const t0 = performance.now();
  const runs = [];
  const { lr, wd } = DEFAULT_GRIDS.prompt;
  const grid = lr.flatMap((l) => wd.map((w) => ({ l, w })));
  const k = Math.min(grid.length, Number(flags['sequential-configs']));
  const picked = new Set(Array.from({ length: k }, (_, i) => Math.floor((i * grid.length) / k)));
  for (const [index, { l, w }] of grid.entries()) {
    if (!picked.has(index)) continue;
    const out = join(dir, 'a', `lr${l}-wd${w}`);
    await promisify(execFile)(process.execPath, [
      cli,
      'train',
      ...shared,
      '--base-lr',
      String(l),
      '--weight-decay',
      String(w),
      '--out',
      out,
      '--quiet',
    ]);
    const s = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    runs.push({ index, lr: l, wd: w, val: s.lastValTop1, test: s.lastTestTop1 });
  }
  const seconds = (performance.now() - t0) / 1000;
  if (k < grid.length) {
    // A subset: no choice; the runs against (b)'s trials of the same configs (a trial trains as `train` does).
    const trials = (await readFile(join(dir, 'none', 'trials.jsonl'), 'utf8').catch(() => ''))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    for (const r of runs) {
      const t = trials.find((x) => x.index === r.index);
      console.log(
        `(a) lr ${r.lr} wd ${r.wd}: last val top-1 ${pct(r.val)} (train), ${pct(t?.epochs.at(-1)?.val?.top1)} ((b)'s trial ${t?.id ?? 'n/a'})`,
      );
    }
    console.log(`(a): ${k} of ${grid.length} train processes in ${seconds.toFixed(1)} s; x ${grid.length}/${k} below`);
    rows.unshift({
      way: `(a) 36 x train (${k} run, time x 36/${k})`,
      seconds: (seconds * grid.length) / k,
      configEpochs: grid.length * epochs,
      chosen: `n/a (${k} of 36 run)`,
      val: null,
      test: null,
    });
    return;
  }
  // VPT's rule: the last epoch's val top-1, ties to the smaller lr.
  const chosen = runs.filter((r) => Number.isFinite(r.val)).sort((x, y) => y.val - x.val || x.lr - y.lr)[0];
  rows.unshift({
    way: '(a) 36 x train',
    seconds,
    configEpochs: 36 * epochs,
    chosen: `lr ${chosen.lr} wd ${chosen.wd}`,
    val: chosen.val,
    test: chosen.test,
  });
}

if (ways.has('a')) await sequentialTrains();

// Host memory one more trial model takes (it shares the group's backbone; bench/shared-backbone-rss.mjs compares own copies).
const trialOptions = { weights, numClasses: classes, imageSize: 32, prompt: { tokens: 5, deep: false }, device: 'cpu' };
const source = await createModel(trialOptions);
const models = [];
const rss0 = process.memoryUsage().rss;
for (let i = 0; i < 8; i++) models.push(await createModelSharingBackbone(trialOptions, source));
const perModel = (process.memoryUsage().rss - rss0) / 8;
const info = models[0].info();
for (const m of [source, ...models]) m.dispose();

// Without (a), speed-up and config-epochs are against (b), the full grid.
const a = rows[0];
const against = ways.has('a') ? '(a)' : '(b)';
console.log(
  `| way | search wall s | config-epochs | chosen | val top-1 % | test top-1 % (seed 42) | speed-up vs ${against} | config-epochs vs ${against} |`,
);
console.log('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
for (const r of rows)
  console.log(
    `| ${r.way} | ${r.seconds.toFixed(1)} | ${r.configEpochs} | ${r.chosen} | ${pct(r.val)} | ${pct(r.test)} | ${(a.seconds / r.seconds).toFixed(2)}x | ${(a.configEpochs / r.configEpochs).toFixed(2)}x fewer |`,
  );
for (const r of rows.filter((x) => x.way.startsWith('(c'))) {
  if (fullGridBest !== undefined)
    console.log(
      `\nfull grid's best val top-1 (b): ${pct(fullGridBest)}; ${r.way}'s choice: ${pct(r.val)} (${((fullGridBest - r.val) * 100).toFixed(1)} points below)`,
    );
}
console.log(
  `one more trial model: ${(perModel / 2 ** 20).toFixed(1)} MiB RSS (sharing the group's ${(info.backboneBytes / 2 ** 20).toFixed(2)} MiB backbone: ${info.backboneShared}; ${info.trainableParams} trainable params)`,
);
