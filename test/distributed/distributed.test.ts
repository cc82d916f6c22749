/**
 * Data-parallel training on c10d Gloo over loopback: sharding, 2 ranks x batch 8 == 1 process x
 * batch 16, an orderly stop and resume with `--nproc`, and a rank that dies or hangs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';
import { Loader } from '../../lib/data/loader.js';
import { distributedFromEnv } from '../../lib/distributed/environment.js';
import { freePort, launchLocalWorkers } from '../../lib/distributed/local-launcher.js';
import { availableBackends, ProcessGroup } from '../../lib/distributed/process-group.js';
import { shardBatch, shardSamples } from '../../lib/distributed/shard.js';
import { createModel, type EpochMetrics, type ProgressEvent, readSafetensors, train } from '../../lib/index.js';
import { maxAbsDiff, useSyntheticTask } from '../helpers/common.js';
import { metricsOf } from '../helpers/run-metrics.js';

const CLI = join(packageRoot, 'dist', 'bin', 'launch.cjs');

describe('sharding', () => {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);

  it('evaluation shards cover every sample exactly once, unpadded, for world sizes 1..4', () => {
    for (const n of [0, 1, 5, 13, 16, 31]) {
      for (let world = 1; world <= 4; world++) {
        const parts = range(world).map((rank) => shardSamples(range(n), { rank, worldSize: world }));
        expect(
          parts.flat().sort((a, b) => a - b),
          `n=${n} world=${world}`,
        ).toEqual(range(n));
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('training batches split into equal contiguous parts that rebuild the global batch', () => {
    expect(shardBatch([0, 1, 2, 3, 4, 5], { rank: 1, worldSize: 3 })).toEqual([2, 3]);
    expect(() => shardBatch([0, 1, 2], { rank: 0, worldSize: 2 })).toThrow(/cannot be split evenly over 2 ranks/);
    expect(() => shardSamples([1], { rank: 2, worldSize: 2 })).toThrow(/rank 2 of a world of 2/);
  });

  it('a sharded loader serves each rank its part; together every sample once per epoch, as one process', () => {
    for (const n of [13, 24, 37]) {
      for (let world = 1; world <= 4; world++) {
        const batchSize = 3 * world;
        const samples = range(n).map((i) => ({ key: `k${i}`, path: `/nonexistent/${i}.jpg`, label: i % 3 }));
        const single = new Loader(samples, { batchSize, train: true, cropSize: 8, seed: 5, dropLast: true });
        const ranks = range(world).map(
          (rank) =>
            new Loader(samples, {
              batchSize,
              train: true,
              cropSize: 8,
              seed: 5,
              dropLast: true,
              shard: { rank, worldSize: world },
            }),
        );
        for (const epoch of [0, 1]) {
          const whole = single.batchOrder(epoch);
          const parts = ranks.map((l) => l.batchOrder(epoch));
          expect(parts.every((p) => p.length === whole.length)).toBe(true);
          for (const [b, batch] of whole.entries())
            expect(
              parts.flatMap((p) => p[b]!),
              `n=${n} world=${world} batch ${b}`,
            ).toEqual(batch);
          const used = parts.flat(2);
          expect(new Set(used).size).toBe(used.length);
          expect(used.length).toBe(Math.floor(n / batchSize) * batchSize);
        }
      }
    }
    const samples = range(10).map((i) => ({ key: `k${i}`, path: `/x/${i}.jpg`, label: 0 }));
    expect(
      () =>
        new Loader(samples, {
          batchSize: 5,
          train: true,
          cropSize: 8,
          dropLast: true,
          shard: { rank: 0, worldSize: 2 },
        }),
    ).toThrow(/must divide evenly over 2 ranks/);
  });
});

describe('environment', () => {
  it('reads the torchrun variables; WORLD_SIZE unset or 1 is a single process', () => {
    expect(distributedFromEnv({})).toBeNull();
    expect(distributedFromEnv({ WORLD_SIZE: '1', RANK: '0' })).toBeNull();
    expect(
      distributedFromEnv({
        WORLD_SIZE: '4',
        RANK: '3',
        LOCAL_RANK: '1',
        MASTER_ADDR: 'node0',
        MASTER_PORT: '1234',
        GLOO_SOCKET_IFNAME: 'eth1',
      }),
    ).toEqual({ rank: 3, worldSize: 4, localRank: 1, masterAddr: 'node0', masterPort: 1234, glooInterface: 'eth1' });
    expect(distributedFromEnv({ WORLD_SIZE: '2', RANK: '1' })).toMatchObject({
      localRank: 1,
      masterAddr: '127.0.0.1',
      masterPort: 29500,
    });
    expect(distributedFromEnv({ WORLD_SIZE: '8', RANK: '5', LOCAL_WORLD_SIZE: '4' })).toMatchObject({ localRank: 1 });
  });

  it('names the variable that is wrong', () => {
    expect(() => distributedFromEnv({ WORLD_SIZE: '2' })).toThrow(/RANK is not set/);
    expect(() => distributedFromEnv({ WORLD_SIZE: '2', RANK: '2' })).toThrow(
      /RANK="2": expected an integer from 0 to 1/,
    );
    expect(() => distributedFromEnv({ WORLD_SIZE: 'two', RANK: '0' })).toThrow(/WORLD_SIZE="two"/);
    expect(() => distributedFromEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '70000' })).toThrow(/MASTER_PORT/);
  });
});

describe('local launcher (--nproc)', () => {
  it('gives each worker its rank; one failing worker ends the rest after the grace period', async () => {
    const exits: Array<[number, number | null, string | null]> = [];
    const script = `const r = Number(process.env.RANK);
      if (process.env.WORLD_SIZE !== '3' || process.env.LOCAL_RANK !== String(r) || process.env.MASTER_ADDR !== '127.0.0.1' || !(Number(process.env.MASTER_PORT) > 0)) process.exit(9);
      if (r === 1) process.exit(3);
      setInterval(() => {}, 1000);`;
    const started = performance.now();
    const code = await launchLocalWorkers({
      nproc: 3,
      argv: [process.execPath, '-e', script],
      graceSeconds: 1,
      onExit: (rank, c, signal) => exits.push([rank, c, signal]),
    });
    expect(code).toBe(3);
    expect(exits.sort()).toEqual([
      [0, null, 'SIGTERM'],
      [1, 3, null],
      [2, null, 'SIGTERM'],
    ]);
    expect((performance.now() - started) / 1000).toBeLessThan(5);
  });
});

describe('backends', () => {
  // .ci/run installs Gloo's headers, so a CI build without the backend is a failure, not a skip.
  it.runIf(!!process.env.CI)('the CI build has the Gloo backend', () => {
    expect(availableBackends()).toMatchObject({ gloo: true, nccl: false });
  });
});

describe.runIf(availableBackends().gloo)('process group (Gloo, loopback)', () => {
  it('two ranks in one process sum their values; a timeout names the collective', async () => {
    const port = await freePort();
    const common = {
      worldSize: 2,
      masterAddr: '127.0.0.1',
      masterPort: port,
      glooInterface: '',
      backend: 'gloo' as const,
      timeoutSeconds: 3,
    };
    const [a, b] = await Promise.all([0, 1].map((rank) => ProcessGroup.join({ ...common, rank, localRank: rank })));
    const [sa, sb] = await Promise.all([a!.allReduceSum([1, 2.5]), b!.allReduceSum([10, 0.25])]);
    expect([...sa!]).toEqual([11, 2.75]);
    expect([...sb!]).toEqual([11, 2.75]);
    const started = performance.now();
    // Rank 1 never joins this collective: rank 0 must give up after the 3 s timeout.
    await expect(a!.allReduceSum([1])).rejects.toMatchObject({
      code: 'VPT_DISTRIBUTED',
      message: expect.stringMatching(/all-reduce failed on rank 0 of 2/),
    });
    expect((performance.now() - started) / 1000).toBeGreaterThan(2.5);
    a!.dispose();
    b!.dispose();
  });

  it('a rendezvous nobody else joins fails within the timeout', async () => {
    const port = await freePort();
    const started = performance.now();
    await expect(
      ProcessGroup.join({
        rank: 0,
        worldSize: 2,
        localRank: 0,
        masterAddr: '127.0.0.1',
        masterPort: port,
        glooInterface: '',
        backend: 'gloo',
        timeoutSeconds: 2,
      }),
    ).rejects.toMatchObject({
      code: 'VPT_DISTRIBUTED',
      message: expect.stringMatching(/could not join the process group \(rank 0 of 2/),
    });
    expect((performance.now() - started) / 1000).toBeLessThan(15);
  });
});

describe.runIf(availableBackends().gloo)('data-parallel training (CLI, Gloo over loopback)', () => {
  const task = useSyntheticTask(
    { classes: 5, imagesPerClass: 16, imageSize: 48, seed: 3 },
    { embedDim: 48, depth: 3, numHeads: 3, patchSize: 8, imgSize: 32, seed: 1 },
  );

  // Class-weighted loss, deep prompts, random crops and flips: all must match a single process.
  const flags = (out: string, epochs = 3) => [
    'train',
    '--data',
    task.data,
    '--weights',
    task.weights,
    '--out',
    out,
    '--epochs',
    String(epochs),
    '--warmup-epochs',
    '1',
    '--batch-size',
    '16',
    '--base-lr',
    '2',
    '--deep',
    '--prompt-tokens',
    '4',
    '--class-weights',
    'inv',
    '--crop-size',
    '32',
    '--device',
    'cpu',
    '--seed',
    '7',
    '--workers',
    '1',
  ];

  interface Exit {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    seconds: number;
  }
  function start(
    args: string[],
    env: NodeJS.ProcessEnv = {},
    onLine?: (line: string, child: ChildProcess) => void,
  ): { child: ChildProcess; exit: Promise<Exit> } {
    const began = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '',
      stderr = '',
      pending = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) onLine?.(l, child);
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
    });
    const exit = new Promise<Exit>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({ code, signal, stdout, stderr, seconds: (performance.now() - began) / 1000 }),
      );
    });
    return { child, exit };
  }

  async function expectSameState(a: string, b: string, tolerance: number): Promise<void> {
    const [x, y] = await Promise.all([readSafetensors(a), readSafetensors(b)]);
    expect([...y.tensors.keys()].sort()).toEqual([...x.tensors.keys()].sort());
    for (const [name, t] of x.tensors) {
      expect(maxAbsDiff(t.data as Float32Array, y.tensors.get(name)!.data as Float32Array), name).toBeLessThan(
        tolerance,
      );
    }
  }

  let single: string;
  let singleMetrics: EpochMetrics[];

  it('2 ranks x batch 8 (--nproc 2) == 1 process x batch 16: tensors within 1e-5, same val accuracy', async () => {
    single = join(task.dir, 'single');
    const one = await start([...flags(single), '--quiet']).exit;
    expect(one.code, one.stderr).toBe(0);
    const out = join(task.dir, 'nproc2');
    const two = await start([...flags(out), '--nproc', '2', '--quiet']).exit;
    expect(two.code, two.stderr).toBe(0);
    expect(two.stdout.trim().split('\n')).toHaveLength(1); // only rank 0 prints
    await expectSameState(join(single, 'last.state.safetensors'), join(out, 'last.state.safetensors'), 1e-5);
    singleMetrics = await metricsOf(single);
    const metrics = await metricsOf(out);
    expect(metrics.map((m) => m.val!.top1)).toEqual(singleMetrics.map((m) => m.val!.top1));
    expect(metrics.map((m) => m.val!.count)).toEqual(singleMetrics.map((m) => m.val!.count));
    metrics.forEach((m, i) => {
      expect(m.train.loss).toBeCloseTo(singleMetrics[i]!.train.loss, 5);
      expect(m.train.top1).toBe(singleMetrics[i]!.train.top1);
    });
  });

  it('--nproc with options no rank can take: exit 2 naming the option, nothing written', async () => {
    const out = join(task.dir, 'refused');
    const r = await start([...flags(out), '--batch-size', '15', '--nproc', '2']).exit;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'Invalid option "batchSize": the global batch 15 must divide evenly over 2 ranks [VPT_OPTION]',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('Ctrl-C stops every rank at the same step with the state saved; --resume with 2 ranks continues exactly', async () => {
    // With prompt dropout: each rank's own dropout stream must continue after the resume.
    const dropout = ['--prompt-dropout', '0.2'];
    const whole = join(task.dir, 'uninterrupted');
    const uninterrupted = await start([...flags(whole), ...dropout, '--nproc', '2', '--quiet']).exit;
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
    const out = join(task.dir, 'interrupted');
    let signalled = false;
    const first = await start([...flags(out), ...dropout, '--nproc', '2', '--json'], {}, (line, child) => {
      const e = JSON.parse(line) as { type: string; step?: number };
      if (e.type === 'step' && e.step === 5 && !signalled) {
        signalled = true;
        child.kill('SIGINT');
      }
    }).exit;
    expect(first.code, first.stderr).toBe(130);
    const saved = JSON.parse((await readSafetensors(join(out, 'last.state.safetensors'))).metadata.train!) as {
      run: { step: number; rankRng: string[] };
    };
    expect(saved.run.step).toBeGreaterThanOrEqual(6);
    expect(saved.run.step).toBeLessThan(12);
    expect(saved.run.rankRng).toHaveLength(2);
    expect(saved.run.rankRng[0]).not.toBe(saved.run.rankRng[1]);
    const second = await start([
      ...flags(out),
      ...dropout,
      '--nproc',
      '2',
      '--quiet',
      '--resume',
      join(out, 'last.state.safetensors'),
    ]).exit;
    expect(second.code, second.stderr).toBe(0);
    await expectSameState(join(whole, 'last.state.safetensors'), join(out, 'last.state.safetensors'), 1e-6);
    expect((await metricsOf(out)).map((m) => m.val)).toEqual((await metricsOf(whole)).map((m) => m.val));
  });

  it("train() API, two ranks in one process: a stop voted on an epoch's last step keeps that epoch's evaluation", async () => {
    const port = await freePort();
    const config = (out: string) => ({
      data: task.data,
      weights: task.weights,
      out,
      epochs: 3,
      warmupEpochs: 1,
      batchSize: 16,
      baseLr: 2,
      deep: true,
      promptTokens: 4,
      cropSize: 32,
      device: 'cpu',
      seed: 7,
      workers: 1,
      distTimeout: 30,
    });
    const dist = (rank: number) => ({
      rank,
      worldSize: 2,
      localRank: rank,
      masterAddr: '127.0.0.1',
      masterPort: port,
      glooInterface: '',
    });
    const out = join(task.dir, 'api-stop');
    const controller = new AbortController();
    // 65 training images / 16 = 4 steps an epoch: aborting after step 3 puts the vote on step 4.
    const runs = [0, 1].map((rank) =>
      train(config(out), {
        distributed: dist(rank),
        ...(rank === 0
          ? {
              signal: controller.signal,
              onProgress: (e: ProgressEvent) => {
                if (e.type === 'step' && e.step === 3) controller.abort();
              },
            }
          : {}),
      }),
    );
    const settled = await Promise.allSettled(runs);
    expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of settled) expect((r as PromiseRejectedResult).reason).toMatchObject({ name: 'AbortError' });
    const metrics = await metricsOf(out);
    expect(metrics.map((m) => m.epoch)).toEqual([1]);
    expect(metrics[0]!.val!.top1).toBe(singleMetrics[0]!.val!.top1);
    const saved = JSON.parse((await readSafetensors(join(out, 'last.state.safetensors'))).metadata.train!) as {
      run: { step: number };
    };
    expect(saved.run.step).toBe(4);
  });

  /** Two ranks started by hand (as torchrun would), rank 0 printing JSON progress. */
  async function twoRanks(out: string, timeout: number) {
    const port = await freePort();
    const env = (rank: number) => ({
      RANK: String(rank),
      WORLD_SIZE: '2',
      LOCAL_RANK: String(rank),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
    });
    const args = [...flags(out, 500), '--dist-timeout', String(timeout), '--json'];
    let epochs = 0;
    let onEpoch: () => void = () => {};
    const rank0 = start(args, env(0), (line) => {
      if ((JSON.parse(line) as { type: string }).type === 'epoch' && ++epochs === 2) onEpoch();
    });
    const rank1 = start(args, env(1));
    await new Promise<void>((resolve) => {
      onEpoch = resolve;
    });
    return { rank0, rank1 };
  }

  async function expectCheckpointLoads(out: string): Promise<void> {
    const state = join(out, 'last.state.safetensors');
    expect(existsSync(state)).toBe(true);
    const model = await createModel({
      weights: task.weights,
      numClasses: 5,
      imageSize: 32,
      prompt: { tokens: 4, deep: true },
      device: 'cpu',
    });
    try {
      model.configureOptimizer({ optimizer: 'sgd', lr: 0.1 });
      const loaded = await model.loadState(state);
      expect(loaded.step).toBeGreaterThanOrEqual(8);
    } finally {
      model.dispose();
    }
  }

  it.each([1, 0])(
    'rank %i dying makes the other stop with VPT_DISTRIBUTED; the last checkpoint loads',
    async (dying) => {
      const out = join(task.dir, `killed-${dying}`);
      const ranks = Object.values(await twoRanks(out, 20));
      const killedAt = performance.now();
      ranks[dying]!.child.kill('SIGKILL');
      const survivor = await ranks[1 - dying]!.exit;
      expect((await ranks[dying]!.exit).signal).toBe('SIGKILL');
      expect(survivor.code, survivor.stderr).toBe(1);
      expect(survivor.stderr).toMatch(new RegExp(`failed on rank ${1 - dying} of 2\\b.*\\[VPT_DISTRIBUTED\\]`, 's'));
      expect((performance.now() - killedAt) / 1000).toBeLessThan(20 + 5);
      await expectCheckpointLoads(out);
    },
  );

  it('a rank that hangs makes the other stop with VPT_DISTRIBUTED once the timeout passes', async () => {
    const out = join(task.dir, 'hung');
    const timeout = 4;
    const { rank0, rank1 } = await twoRanks(out, timeout);
    const stoppedAt = performance.now();
    rank1.child.kill('SIGSTOP');
    try {
      const r0 = await rank0.exit;
      const seconds = (performance.now() - stoppedAt) / 1000;
      expect(r0.code, r0.stderr).toBe(1);
      expect(r0.stderr).toMatch(/failed on rank 0 of 2\b.*hung past the 4 s timeout.*\[VPT_DISTRIBUTED\]/s);
      expect(seconds).toBeGreaterThan(timeout - 1);
      expect(seconds).toBeLessThan(timeout + 10);
    } finally {
      rank1.child.kill('SIGKILL');
    }
    await rank1.exit;
    await expectCheckpointLoads(out);
  });
});
