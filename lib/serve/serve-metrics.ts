/**
 * `ServeMetrics`: the server's Prometheus metrics (prom-client), in a registry of its own so
 * that several servers in one process do not share counters. Served at GET /metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

import { deviceMemory } from '../device-memory.js';

export interface MetricsSources {
  /** Requests waiting for a batch now. */
  queueDepth(): number;
  /** The model's device (`cpu`, `cuda`, `cuda:N`). */
  device: string;
  /** Bytes of the backbone, and of each task's prompts and head, on the device. */
  backboneBytes: number;
  taskBytes: Record<string, number>;
}

export class ServeMetrics {
  readonly registry = new Registry();
  /** Answered requests by task and HTTP status. */
  readonly requests: Counter<'task' | 'status'>;
  /** Error responses by task and error code. */
  readonly errors: Counter<'task' | 'code'>;
  /** Request latency, arrival to answer, by route. */
  readonly latency: Histogram<'route'>;
  readonly batchSize: Histogram;
  readonly batchSeconds: Histogram;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'vpt_serve_' });
    this.requests = new Counter({
      name: 'vpt_serve_requests_total',
      help: 'Answered requests by task and HTTP status',
      labelNames: ['task', 'status'],
      registers,
    });
    this.errors = new Counter({
      name: 'vpt_serve_errors_total',
      help: 'Error responses by task and error code',
      labelNames: ['task', 'code'],
      registers,
    });
    this.latency = new Histogram({
      name: 'vpt_serve_request_duration_seconds',
      help: 'Request latency from arrival to answer',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'vpt_serve_batch_size',
      help: 'Image-task requests per model call',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'vpt_serve_batch_duration_seconds',
      help: 'Model call duration per batch',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    new Gauge({
      name: 'vpt_serve_queue_depth',
      help: 'Requests waiting for a batch',
      registers,
      collect() {
        this.set(sources.queueDepth());
      },
    });
    const memory = new Gauge({
      name: 'vpt_serve_device_memory_bytes',
      help: 'Device memory: the weights of the backbone and of each task; on CUDA the allocator too',
      labelNames: ['kind', 'task'],
      registers,
      collect() {
        memory.set({ kind: 'backbone', task: '' }, sources.backboneBytes);
        for (const [task, bytes] of Object.entries(sources.taskBytes)) memory.set({ kind: 'task', task }, bytes);
        const cuda = sources.device.startsWith('cuda') ? deviceMemory(sources.device) : null;
        if (cuda) {
          memory.set({ kind: 'allocated', task: '' }, cuda.allocated);
          memory.set({ kind: 'reserved', task: '' }, cuda.reserved);
        }
      },
    });
  }
}
