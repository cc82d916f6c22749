/**
 * End to end on a synthetic CUB-layout dataset: train() and the CLI, run files, resume after
 * an AbortSignal and after SIGINT (== uninterrupted), eval and predict.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';
import { type EpochMetrics, evaluate, predict, readSafetensors, type TrainConfig, train } from '../../lib/index.js';
import { FIXTURES, useSyntheticTask } from '../helpers/common.js';
import { metricsOf } from '../helpers/run-metrics.js';

const CLASSES = 5;

const task = useSyntheticTask(
  { classes: CLASSES, imagesPerClass: 16, imageSize: 48, seed: 3 },
  { embedDim: 48, depth: 3, numHeads: 3, patchSize: 8, imgSize: 32, seed: 1 },
);

const base = (): Omit<TrainConfig, 'out'> => ({
  data: task.data,
  weights: task.weights,
  epochs: 4,
  warmupEpochs: 1,
  batchSize: 8,
  baseLr: 2,
  deep: true,
  promptTokens: 4,
  promptDropout: 0.1,
  cropSize: 32,
  device: 'cpu',
  seed: 7,
  workers: 1,
});

/** Metrics without wall-clock fields, for exact comparison between runs. */
function comparable(m: EpochMetrics[]) {
  return m.map(({ epoch, step, lr, train: t, val, test }) => ({
    epoch,
    step,
    lr,
    loss: t.loss,
    top1: t.top1,
    val,
    test,
  }));
}

let reference: EpochMetrics[];

describe('train()', () => {
  it('learns the synthetic classes far above chance and writes every run file', async () => {
    const out = join(task.dir, 'run-api');
    const events: string[] = [];
    const result = await train({ ...base(), out }, { onProgress: (e) => events.push(e.type) });
    expect(result.bestValTop1).toBeGreaterThan(3 / CLASSES);
    for (const f of Object.values(result.files)) expect((await stat(f)).size, f).toBeGreaterThan(0);
    const metrics = await metricsOf(out);
    expect(metrics.map((m) => m.epoch)).toEqual([1, 2, 3, 4]);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    const best = metrics.reduce((a, b) => (b.val!.top1 > a.val!.top1 ? b : a));
    expect(summary).toMatchObject({
      bestEpoch: best.epoch,
      bestValTop1: best.val!.top1,
      lastValTop1: metrics[3]!.val!.top1,
      epochs: 4,
    });
    expect(summary.seconds).toBeGreaterThan(0);
    expect(summary.imagesPerSecond).toBeGreaterThan(0);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toMatchObject({
      epochs: 4,
      batchSize: 8,
      deep: true,
      momentum: 0.9,
    });
    expect(events[0]).toBe('start');
    expect(events.at(-1)).toBe('done');
    expect(events.filter((e) => e === 'epoch')).toHaveLength(4);
    const bestFile = await readSafetensors(result.files.best);
    expect(JSON.parse(bestFile.metadata.config!)).toMatchObject({ epochs: 4, batchSize: 8, promptTokens: 4, out });
    const png = await readFile(result.files.curves);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    reference = metrics;
  });

  it('interrupted by an AbortSignal, then resumed, equals the uninterrupted run', async () => {
    const out = join(task.dir, 'run-abort');
    const controller = new AbortController();
    let steps = 0;
    const first = train(
      { ...base(), out },
      {
        signal: controller.signal,
        onProgress: (e) => {
          if (e.type === 'step' && ++steps === 13) controller.abort();
        },
      },
    );
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
    const saved = await readSafetensors(join(out, 'last.state.safetensors'));
    expect(JSON.parse(saved.metadata.train!).run).toMatchObject({
      step: 13,
      partial: { images: 40 },
      config: { epochs: 4, deep: true },
    });
    await train({ ...base(), out, resume: join(out, 'last.state.safetensors') });
    expect(comparable(await metricsOf(out))).toEqual(comparable(reference));
  });

  it('linear probing without augmentation trains on cached features, as without the cache', async () => {
    const linear = { ...base(), transfer: 'linear' as const, augment: false, baseLr: 4, epochs: 3 };
    const cached = await train({ ...linear, out: join(task.dir, 'run-linear-cached') });
    const plain = await train({ ...linear, cacheFeatures: false, out: join(task.dir, 'run-linear-plain') });
    const steps = cached.epochs[0]!.step;
    // Samples dropped by dropLast in epoch 1 are computed in a later epoch; after that all is cached.
    expect(cached.cachedFeatureSteps).toBeGreaterThanOrEqual(steps);
    expect(plain.cachedFeatureSteps).toBe(0);
    // Features computed in other batch compositions differ in the last ulp (BLAS blocking), so
    // equal up to float rounding: same accuracies, losses within 1e-6.
    cached.epochs.forEach((m, e) => {
      const p = plain.epochs[e]!;
      expect([m.epoch, m.step, m.lr, m.train.top1, m.val?.top1]).toEqual([
        p.epoch,
        p.step,
        p.lr,
        p.train.top1,
        p.val?.top1,
      ]);
      expect(m.train.loss).toBeCloseTo(p.train.loss, 6);
      expect(m.val!.loss).toBeCloseTo(p.val!.loss, 6);
    });
    expect(cached.bestValTop1).toBeGreaterThan(1 / CLASSES);
  });

  it('a run that diverges stops with VPT_NONFINITE and keeps the best checkpoint', async () => {
    const out = join(task.dir, 'run-diverge');
    // Per-epoch schedule: epoch 1 runs at lr 0 (and is evaluated), epoch 2 at 1e36 / 3.
    let best: Buffer | undefined;
    const diverging = train(
      { ...base(), out, epochs: 4, warmupEpochs: 3, scheduleUnit: 'epoch', baseLr: 1e36 },
      {
        onProgress: (e) => {
          if (e.type === 'epoch') best = readFileSync(join(out, 'best.safetensors'));
        },
      },
    );
    await expect(diverging).rejects.toMatchObject({
      code: 'VPT_NONFINITE',
      message: expect.stringMatching(/in a row \(last at step \d+\)/),
    });
    expect(best).toBeDefined();
    expect((await readFile(join(out, 'best.safetensors'))).equals(best!)).toBe(true);
    expect((await metricsOf(out)).map((m) => m.epoch)).toEqual([1]);
  });

  it('evaluate() reproduces the val accuracy the run reported; predict() returns class names', async () => {
    const out = join(task.dir, 'run-api');
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    const r = await evaluate({ run: out, split: 'val' });
    expect(r.top1).toBe(summary.bestValTop1);
    expect((await evaluate({ data: task.data, weights: task.weights, out, split: 'val' })).top1).toBe(
      summary.bestValTop1,
    );
    expect(r.perClass).toHaveLength(CLASSES);
    expect(r.perClass[0]!.name).toMatch(/^001\./);
    const val = JSON.parse(await readFile(join(task.data, 'val.json'), 'utf8')) as Record<string, number>;
    const images = Object.keys(val)
      .slice(0, 3)
      .map((k) => join(task.data, 'images', k));
    const p = await predict({ weights: task.weights, checkpoint: join(out, 'best.safetensors'), images, topK: 2 });
    expect(p).toHaveLength(3);
    expect(p[0]!.top).toHaveLength(2);
    expect(p[0]!.top[0]!.name).toMatch(/^\d{3}\./);
    expect(p[0]!.top[0]!.prob).toBeGreaterThanOrEqual(p[0]!.top[1]!.prob);
  });
});

function cli(
  args: string[],
  onLine?: (line: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot, 'dist', 'bin', 'launch.cjs'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '',
      pending = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) onLine?.(l, child);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const flags = (out: string) => [
  'train',
  '--data',
  task.data,
  '--weights',
  task.weights,
  '--out',
  out,
  '--epochs',
  '4',
  '--warmup-epochs',
  '1',
  '--batch-size',
  '8',
  '--base-lr',
  '2',
  '--deep',
  '--prompt-tokens',
  '4',
  '--prompt-dropout',
  '0.1',
  '--crop-size',
  '32',
  '--device',
  'cpu',
  '--seed',
  '7',
  '--workers',
  '1',
];

describe('vpt-native train (CLI)', () => {
  it('gives the same metrics as train(); SIGINT stops with 130, --resume continues exactly', async () => {
    const out = join(task.dir, 'run-cli');
    let signalled = false;
    const first = await cli([...flags(out), '--json'], (line, child) => {
      const e = JSON.parse(line) as { type: string; step?: number };
      if (e.type === 'step' && e.step === 9 && !signalled) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    expect(first.code).toBe(130);
    expect(first.stderr).toContain('interrupted');
    const second = await cli([...flags(out), '--resume', join(out, 'last.state.safetensors'), '--quiet']);
    expect(second.code, second.stderr).toBe(0);
    expect(comparable(await metricsOf(out))).toEqual(comparable(reference));
  });

  it('shows a live progress bar on a terminal', async () => {
    // `script` runs the CLI on a pseudo-terminal and copies what it draws to stdout.
    const command = [
      process.execPath,
      join(packageRoot, 'dist', 'bin', 'launch.cjs'),
      ...flags(join(task.dir, 'run-tty')),
      '--epochs',
      '1',
      '--warmup-epochs',
      '0',
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    const drawn = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d;
      });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`))));
    });
    expect(drawn).toMatch(/epoch 1 \|[^|]*\| \d+\/\d+ \| loss \d/);
    expect(drawn).toMatch(/img\/s \| ETA/);
    expect(drawn).toContain('epoch 1: train loss');
  });

  it("false booleans from --config survive the negatable flags' defaults; --[no-]fused-layer-norm go through", async () => {
    const file = join(task.dir, 'falses.json');
    await writeFile(file, JSON.stringify({ augment: false, cacheFeatures: false, fusedLayerNorm: false }));
    const fromFile = join(task.dir, 'run-falses');
    const a = await cli([...flags(fromFile), '--epochs', '1', '--warmup-epochs', '0', '--config', file, '--quiet']);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(fromFile, 'config.json'), 'utf8'))).toMatchObject({
      augment: false,
      cacheFeatures: false,
      fusedLayerNorm: false,
    });
    const fromFlag = join(task.dir, 'run-unfused');
    const b = await cli([
      ...flags(fromFlag),
      '--epochs',
      '1',
      '--warmup-epochs',
      '0',
      '--no-fused-layer-norm',
      '--no-skip-discarded-prompt-rows',
      '--quiet',
    ]);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(fromFlag, 'config.json'), 'utf8'))).toMatchObject({
      augment: true,
      cacheFeatures: true,
      fusedLayerNorm: false,
      skipDiscardedPromptRows: false,
    });
    const overridden = join(task.dir, 'run-fused');
    const c = await cli([
      ...flags(overridden),
      '--epochs',
      '1',
      '--warmup-epochs',
      '0',
      '--config',
      file,
      '--fused-layer-norm',
      '--quiet',
    ]);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(overridden, 'config.json'), 'utf8'))).toMatchObject({
      augment: false,
      fusedLayerNorm: true,
    });
  });

  it('usage errors exit 2 and name the option', async () => {
    const r = await cli([
      'train',
      '--data',
      task.data,
      '--weights',
      task.weights,
      '--out',
      join(task.dir, 'x'),
      '--batch-size',
      '0',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"batchSize"');
    const unknown = await cli(['train', '--bogus']);
    expect(unknown.code).toBe(2);
    const yacs = await cli([
      'train',
      '--vpt-config',
      join(FIXTURES, 'vpt-configs', 'cub.yaml'),
      '--data',
      task.data,
      '--weights',
      task.weights,
      '--out',
      join(task.dir, 'y'),
    ]);
    expect(yacs.code).toBe(2);
    expect(yacs.stderr).toContain(`DATA.NUMBER_CLASSES is 200 but ${task.data} has ${CLASSES} classes`);
    expect(yacs.stderr).toContain('not honored by vpt-native: SOLVER.LOSS');
  });
});
