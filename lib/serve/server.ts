/**
 * `createServer`: the Fastify app serving a MultiTaskModel. Routes:
 *
 *   POST /v1/tasks/:task/predict   one image (raw body or multipart), one task: top-k
 *   POST /v1/predict               one image, several tasks (?tasks=a,b; default all)
 *   GET  /v1/tasks                 backbone and tasks: classes, prompt config, fingerprint
 *   GET  /healthz, /readyz         up; ready (503 while shutting down)
 *   GET  /metrics                  Prometheus text (serve-metrics.ts)
 *   GET  /openapi.json             the OpenAPI document
 *   GET  /                         the web page (web-page.ts)
 *
 * Every error is `{ error: { code, message } }` with the status of http-error.ts.
 */
import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Preprocess } from '../data/datasets/common.js';
import type { MultiTaskModel, TaskInfo } from '../model/multi-task-model.js';
import { VERSION } from '../version.js';
import { HttpError, SERVE_ERROR } from './http-error.js';
import { openApiDocument } from './openapi.js';
import { Predictor } from './predictor.js';
import { ServeMetrics } from './serve-metrics.js';
import { topK } from './top-k.js';
import { decodeUpload } from './upload-image.js';
import { WEB_PAGE } from './web-page.js';

/** How the server batches, limits and times out (serve-options.ts validates them). */
export interface ServerLimits {
  /** Most image-task requests per model call. */
  maxBatch: number;
  /** Longest a request waits for others to join its batch. */
  maxWaitMs: number;
  /** Most image-task requests waiting; beyond, 503 queue_full with Retry-After. */
  maxQueue: number;
  /** Deadline of a request from arrival; beyond, 504 deadline_exceeded. */
  timeoutMs: number;
  /** Largest request body in bytes (413 beyond). */
  bodyLimit: number;
  /** Largest image in pixels (width x height), checked before decoding (422 beyond). */
  maxPixels: number;
  /** Classes per task when the request does not say. */
  topK: number;
}

/** How each task's images are prepared, by task name: its run's eval view ('fgvc' when absent). */
export type TaskViews = Readonly<Record<string, Preprocess>>;

/** The app, its metrics and the state shutdown needs. */
export interface ServeApp {
  app: FastifyInstance;
  metrics: ServeMetrics;
  predictor: Predictor;
  /** Marks the server as shutting down: /readyz and new predictions answer 503. */
  stopAccepting(): void;
}

const topKQuery = { type: 'integer', minimum: 1, maximum: 1000 } as const;

/**
 * Builds the app (not listening).
 * @example
 * ```ts
 * const { app } = await createServer(model, limits);
 * await app.listen({ host: '127.0.0.1', port: 8080 });
 * ```
 */
export async function createServer(
  model: MultiTaskModel,
  limits: ServerLimits,
  views: TaskViews = {},
): Promise<ServeApp> {
  const app = Fastify({ bodyLimit: limits.bodyLimit, forceCloseConnections: 'idle', return503OnClosing: true });
  const metrics = new ServeMetrics({
    queueDepth: () => predictor.queueDepth,
    device: model.info().device,
    backboneBytes: model.info().backboneBytes,
    taskBytes: Object.fromEntries(model.tasks.map((t) => [t.name, t.bytes])),
  });
  const predictor = new Predictor(
    model,
    { maxBatch: limits.maxBatch, maxWaitMs: limits.maxWaitMs, maxQueue: limits.maxQueue },
    (batch) => {
      metrics.batchSize.observe(batch.size);
      metrics.batchSeconds.observe(batch.seconds);
    },
  );
  let accepting = true;
  /** The task label and error code of each request, for the metrics. */
  const taskOf = new WeakMap<FastifyRequest, string>();
  const errorOf = new WeakMap<FastifyRequest, string>();

  await app.register(multipart, { limits: { fileSize: limits.bodyLimit, files: 1, fields: 8 } });
  // Any other body is the image itself, whatever its content type says.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    const e = toHttpError(error);
    errorOf.set(request, e.code);
    void reply
      .code(e.status)
      .headers(e.headers)
      .send({ error: { code: e.code, message: e.message } });
  });
  app.setNotFoundHandler((request, reply) => {
    errorOf.set(request, 'not_found');
    void reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } });
  });
  // While shutting down, each answered connection closes: a keep-alive client would otherwise
  // hold the server open until its keep-alive timeout.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!accepting) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
    const task = taskOf.get(request);
    if (task === undefined) return;
    metrics.requests.inc({ task, status: String(reply.statusCode) });
    const code = errorOf.get(request);
    if (code) metrics.errors.inc({ task, code });
  });

  /** The tasks a request names, resolved (404 unknown_task naming the first unknown one). */
  const resolveTasks = (names: string[]): TaskInfo[] =>
    names.map((name) => {
      const task = model.tasks.find((t) => t.name === name);
      if (!task) {
        throw new HttpError(
          SERVE_ERROR.unknownTask,
          `no task ${JSON.stringify(name)} (tasks: ${model.tasks.map((t) => t.name).join(', ')})`,
        );
      }
      return task;
    });

  /** Decodes the request's image and classifies it with `tasks`. */
  const classify = async (tasks: TaskInfo[], image: Buffer, k: number) => {
    if (!accepting) throw new HttpError(SERVE_ERROR.shuttingDown, 'the server is shutting down');
    const deadline = performance.now() + limits.timeoutMs;
    // One decode per eval view the tasks ask for (VPT's resize + center crop, or VTAB's plain
    // resize), each view's tasks in one request to the batcher.
    const byView = new Map<Preprocess, number[]>();
    tasks.forEach((t, i) => {
      const view = views[t.name] ?? 'fgvc';
      byView.set(view, [...(byView.get(view) ?? []), i]);
    });
    const logits: Float32Array[] = new Array(tasks.length);
    await Promise.all(
      [...byView].map(async ([preprocess, at]) => {
        const pixels = await decodeUpload(image, {
          cropSize: model.imageSize,
          maxPixels: limits.maxPixels,
          preprocess,
        });
        const left = deadline - performance.now();
        if (left <= 0) throw new HttpError(SERVE_ERROR.deadlineExceeded, `no answer within ${limits.timeoutMs} ms`);
        const out = await predictor.predict(
          pixels,
          at.map((i) => tasks[i]!.index),
          left,
        );
        at.forEach((i, j) => {
          logits[i] = out[j]!;
        });
      }),
    );
    return tasks.map((t, i) => ({ task: t.name, top: topK(logits[i]!, t.classNames, k) }));
  };

  app.post<{ Params: { task: string }; Querystring: { topK?: number } }>(
    '/v1/tasks/:task/predict',
    {
      schema: {
        params: { type: 'object', properties: { task: { type: 'string' } } },
        querystring: { type: 'object', properties: { topK: topKQuery } },
      },
    },
    async (request) => {
      taskOf.set(request, request.params.task);
      const { image } = await readImage(request);
      const [task] = resolveTasks([request.params.task]);
      const [prediction] = await classify([task!], image, request.query.topK ?? limits.topK);
      return prediction;
    },
  );

  app.post<{ Querystring: { tasks?: string; topK?: number } }>(
    '/v1/predict',
    {
      schema: {
        querystring: { type: 'object', properties: { tasks: { type: 'string' }, topK: topKQuery } },
      },
    },
    async (request) => {
      const { image, fields } = await readImage(request);
      const list = request.query.tasks ?? fields.tasks;
      const names = list === undefined ? model.tasks.map((t) => t.name) : splitNames(list);
      taskOf.set(request, names.join(','));
      if (names.length === 0) throw new HttpError(SERVE_ERROR.badRequest, 'name at least one task (?tasks=a,b)');
      const tasks = resolveTasks([...new Set(names)]);
      const k = request.query.topK ?? (fields.topK ? Number(fields.topK) : limits.topK);
      if (!Number.isSafeInteger(k) || k < 1)
        throw new HttpError(SERVE_ERROR.badRequest, 'topK must be an integer >= 1');
      return { predictions: await classify(tasks, image, k) };
    },
  );

  app.get('/v1/tasks', async () => {
    const info = model.info();
    return {
      backbone: { ...model.fingerprint, imageSize: model.imageSize, device: info.device, bytes: info.backboneBytes },
      tasks: model.tasks.map((t) => ({
        name: t.name,
        numClasses: t.numClasses,
        classNames: t.classNames,
        transfer: t.transfer,
        prompt: t.prompt,
        mlpLayers: t.mlpLayers,
        preprocess: views[t.name] ?? 'fgvc',
        bytes: t.bytes,
        backbone: model.fingerprint,
      })),
    };
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (!accepting) return reply.code(503).send({ status: 'shutting down' });
    return { status: 'ready', tasks: model.tasks.length };
  });
  app.get('/metrics', async (_request, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/openapi.json', async () => openApiDocument(VERSION));
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(WEB_PAGE));

  return {
    app,
    metrics,
    predictor,
    stopAccepting: () => {
      accepting = false;
    },
  };
}

/** The image of a request (raw body, or the file part of a multipart form) and its form fields. */
async function readImage(request: FastifyRequest): Promise<{ image: Buffer; fields: Record<string, string> }> {
  const fields: Record<string, string> = {};
  if (request.isMultipart()) {
    let image: Buffer | undefined;
    for await (const part of request.parts()) {
      if (part.type === 'file') image = await part.toBuffer();
      else fields[part.fieldname] = String(part.value);
    }
    if (!image) throw new HttpError(SERVE_ERROR.badRequest, 'the multipart form has no file part (the image)');
    return { image, fields };
  }
  if (!Buffer.isBuffer(request.body)) {
    throw new HttpError(SERVE_ERROR.badRequest, 'send the image as the request body or as a multipart file part');
  }
  return { image: request.body, fields };
}

function splitNames(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Any error a route or Fastify raises, as the response it becomes. */
function toHttpError(error: FastifyError | HttpError): HttpError {
  if (error instanceof HttpError) return error;
  const f = error as FastifyError;
  if (f.validation) return new HttpError(SERVE_ERROR.badRequest, f.message);
  if (f.statusCode === 413) {
    return new HttpError(SERVE_ERROR.bodyTooLarge, `the body is larger than this server's limit (${f.message})`);
  }
  if (f.statusCode !== undefined && f.statusCode >= 400 && f.statusCode < 500) {
    return new HttpError(SERVE_ERROR.badRequest, f.message);
  }
  return new HttpError(SERVE_ERROR.internal, f.message);
}
