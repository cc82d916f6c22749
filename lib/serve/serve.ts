/**
 * `serve()`: one frozen backbone, many tasks, over HTTP. Loads the backbone once and every
 * task's trainable-state file onto it (each checked against the backbone's fingerprint),
 * then listens (server.ts). `close()` stops accepting, answers what is in flight, and frees
 * the model.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

import type { Preprocess } from '../data/datasets/common.js';
import { ErrorCode, VptError } from '../errors.js';
import { MultiTaskModel } from '../model/multi-task-model.js';
import type { TrainableMetadata } from '../model/trainable-state.js';
import { readSafetensorsHeader } from '../weights/safetensors.js';
import type { ServeMetrics } from './serve-metrics.js';
import { createServer, type ServerLimits } from './server.js';

const positiveInt = z.number().int().positive();

const serveSchema = z
  .object({
    /** The backbone every task was trained on. */
    weights: z.string().min(1),
    /** Task name -> trainable-state file. */
    tasks: z
      .record(z.string().regex(/^[\w.-]+$/, 'task names are letters, digits, _ . -'), z.string().min(1))
      .default({}),
    /**
     * Task name -> its eval view: 'fgvc' (resize + center crop) or 'vtab' (plain resize). Default:
     * what the task's run trained with (`config.json` beside its file), else 'fgvc'.
     */
    preprocess: z.record(z.string(), z.enum(['fgvc', 'vtab'])).default({}),
    /** A folder of tasks: `<name>.safetensors`, or `<name>/best.safetensors` (a run folder). */
    tasksDir: z.string().min(1).optional(),
    arch: z.string().min(1).optional(),
    device: z.string().min(1).optional(),
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port. */
    port: z.number().int().min(0).max(65535).default(8080),
    maxBatch: positiveInt.default(32),
    maxWaitMs: z.number().min(0).default(5),
    maxQueue: positiveInt.default(256),
    timeoutMs: positiveInt.default(30_000),
    bodyLimit: positiveInt.default(16 * 2 ** 20),
    maxPixels: positiveInt.default(40_000_000),
    topK: positiveInt.default(5),
  })
  .strict();

/** Options of `serve()` (defaults: 127.0.0.1:8080, batches of 32 within 5 ms, 256 queued, 30 s, 16 MiB, 40 Mpx, top 5). */
export type ServeOptions = z.input<typeof serveSchema>;

export interface ServeHandle {
  /** `http://host:port`. */
  url: string;
  app: FastifyInstance;
  model: MultiTaskModel;
  metrics: ServeMetrics;
  /** Stops accepting, answers the requests in flight, frees the model. */
  close(): Promise<void>;
}

/**
 * Serves tasks trained on one backbone. On a machine the server shares, start Node with
 * `OMP_WAIT_POLICY=PASSIVE` (the `serve` command does): LibTorch's spinning OpenMP workers
 * otherwise take the cores the image decoders and HTTP need.
 * @example
 * ```ts
 * const server = await serve({ weights: 'models/vit_b16', tasks: { cub: 'runs/cub/best.safetensors', dogs: 'runs/dogs/best.safetensors' } });
 * console.log(server.url);   // POST an image to `${server.url}/v1/tasks/cub/predict`
 * await server.close();
 * ```
 */
export async function serve(options: ServeOptions): Promise<ServeHandle> {
  const parsed = serveSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new VptError(ErrorCode.Option, `Invalid option "${issue.path.join('.')}": ${issue.message}`);
  }
  const o = parsed.data;
  const tasks = { ...(o.tasksDir ? await tasksIn(o.tasksDir) : {}), ...o.tasks };
  if (Object.keys(tasks).length === 0) {
    throw new VptError(
      ErrorCode.Option,
      'Invalid option "tasks": expected at least one task (--task NAME=FILE or --tasks-dir DIR)',
    );
  }
  const unknown = Object.keys(o.preprocess).filter((name) => !(name in tasks));
  if (unknown.length > 0) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "preprocess": no task ${unknown.map((n) => JSON.stringify(n)).join(', ')} (tasks: ${Object.keys(tasks).join(', ')})`,
    );
  }
  const views = await taskViews(tasks, o.preprocess);
  const metas = await taskMetadata(tasks);
  const sizes = new Set(Object.values(metas).map((m) => m.imageSize));
  if (sizes.size !== 1) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "tasks": they were trained at different image sizes (${Object.entries(metas)
        .map(([name, m]) => `${name} ${m.imageSize}`)
        .join(', ')}); serve the tasks of one image size together`,
    );
  }
  const arch = o.arch ?? Object.values(metas).find((m) => typeof m.arch === 'string' && m.arch)?.arch;
  const model = await MultiTaskModel.create({
    weights: o.weights,
    ...(arch ? { arch } : {}),
    imageSize: [...sizes][0]!,
    ...(o.device ? { device: o.device } : {}),
  });
  let server: Awaited<ReturnType<typeof createServer>>;
  try {
    for (const [name, path] of Object.entries(tasks)) await model.addTask(name, path);
    const limits: ServerLimits = {
      maxBatch: o.maxBatch,
      maxWaitMs: o.maxWaitMs,
      maxQueue: o.maxQueue,
      timeoutMs: o.timeoutMs,
      bodyLimit: o.bodyLimit,
      maxPixels: o.maxPixels,
      topK: o.topK,
    };
    server = await createServer(model, limits, views);
    await server.app.listen({ host: o.host, port: o.port });
  } catch (error) {
    model.dispose();
    throw error;
  }
  const address = server.app.server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    app: server.app,
    model,
    metrics: server.metrics,
    close() {
      closed ??= (async () => {
        server.stopAccepting();
        await server.app.close(); // waits for the requests in flight
        await server.predictor.drain();
        model.dispose();
      })();
      return closed;
    },
  };
}

/** `<name>.safetensors` and `<name>/best.safetensors` in `dir`. */
async function tasksIn(dir: string): Promise<Record<string, string>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new VptError(ErrorCode.Option, `Invalid option "tasksDir": cannot read ${dir} (${(error as Error).message})`);
  }
  const out: Record<string, string> = {};
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (extname(name) === '.safetensors') {
      out[basename(name, '.safetensors')] = path;
    } else if ((await stat(path)).isDirectory()) {
      const best = join(path, 'best.safetensors');
      if (
        await stat(best).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        out[name] = best;
    }
  }
  if (Object.keys(out).length === 0) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "tasksDir": ${dir} holds no <name>.safetensors or <name>/best.safetensors`,
    );
  }
  return out;
}

/**
 * Each task's eval view: given, else its run's (`preprocess` in the `config.json` beside the task
 * file, as `train` writes it and `eval` reads it), else 'fgvc'.
 */
async function taskViews(
  tasks: Record<string, string>,
  given: Record<string, Preprocess>,
): Promise<Record<string, Preprocess>> {
  const out: Record<string, Preprocess> = {};
  for (const [name, path] of Object.entries(tasks)) {
    const explicit = given[name];
    if (explicit) {
      out[name] = explicit;
      continue;
    }
    let trainedWith: unknown;
    try {
      trainedWith = (JSON.parse(await readFile(join(dirname(path), 'config.json'), 'utf8')) as { preprocess?: unknown })
        .preprocess;
    } catch {
      trainedWith = undefined; // not in a run folder
    }
    out[name] = trainedWith === 'vtab' ? 'vtab' : 'fgvc';
  }
  return out;
}

/** Each task file's `__metadata__.vpt` (the image size and architecture it was trained at). */
async function taskMetadata(tasks: Record<string, string>): Promise<Record<string, TrainableMetadata>> {
  const out: Record<string, TrainableMetadata> = {};
  for (const [name, path] of Object.entries(tasks)) {
    let meta: TrainableMetadata | null = null;
    try {
      meta = JSON.parse((await readSafetensorsHeader(path)).metadata.vpt ?? 'null') as TrainableMetadata | null;
    } catch (error) {
      if (error instanceof VptError) throw error;
    }
    if (!meta || typeof meta.imageSize !== 'number') {
      throw new VptError(
        ErrorCode.Shape,
        `${path} (task ${name}) is not a vpt-native trainable-state file (no __metadata__.vpt)`,
      );
    }
    out[name] = meta;
  }
  return out;
}
