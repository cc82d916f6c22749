/** `vpt-native serve`: many tasks on one backbone over HTTP, until SIGTERM / SIGINT (then it drains and exits 0). */
import { type Command, InvalidArgumentError } from 'commander';

import { serve } from '../serve/serve.js';

function nonNegativeNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0.');
  return n;
}

function integer(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer >= 0.');
  return n;
}

/** `--task NAME=FILE`, repeatable. */
function task(v: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = v.indexOf('=');
  if (at <= 0 || at === v.length - 1)
    throw new InvalidArgumentError('expected NAME=FILE, e.g. cub=runs/cub/best.safetensors.');
  return { ...previous, [v.slice(0, at)]: v.slice(at + 1) };
}

/** `--preprocess NAME=fgvc|vtab`, repeatable. */
function view(v: string, previous: Record<string, 'fgvc' | 'vtab'> = {}): Record<string, 'fgvc' | 'vtab'> {
  const at = v.indexOf('=');
  const kind = v.slice(at + 1);
  if (at <= 0 || (kind !== 'fgvc' && kind !== 'vtab'))
    throw new InvalidArgumentError('expected NAME=fgvc or NAME=vtab, e.g. eurosat=vtab.');
  return { ...previous, [v.slice(0, at)]: kind };
}

interface ServeFlags {
  preprocess?: Record<string, 'fgvc' | 'vtab'>;
  weights: string;
  task?: Record<string, string>;
  tasksDir?: string;
  arch?: string;
  device?: string;
  host: string;
  port: number;
  maxBatch?: number;
  maxWaitMs?: number;
  maxQueue?: number;
  timeoutMs?: number;
  bodyLimit?: number;
  maxPixels?: number;
  topK?: number;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve many tasks (trainable-state files) on one frozen backbone over HTTP, in mixed-task batches')
    .requiredOption('--weights <path>', 'the backbone every task was trained on')
    .option('--task <name=file>', 'a task: its name and trainable-state file (repeat for more)', task)
    .option(
      '--preprocess <name=kind>',
      "a task's eval view: fgvc (resize + center crop) or vtab (plain resize); default: its run's config.json, else fgvc",
      view,
    )
    .option('--tasks-dir <dir>', 'every <name>.safetensors and <name>/best.safetensors in DIR is a task')
    .option('--arch <name>', 'timm architecture when the weights have no config.json (default: the tasks’)')
    .option('--device <device>', 'cpu, cuda or cuda:N')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free one)', integer, 8080)
    .option('--max-batch <n>', 'most image-task requests per model call (32)', integer)
    .option('--max-wait-ms <ms>', 'longest a request waits for its batch to fill (5)', nonNegativeNumber)
    .option('--max-queue <n>', 'most requests waiting; beyond, 503 with Retry-After (256)', integer)
    .option('--timeout-ms <ms>', 'deadline of a request; beyond, 504 (30000)', integer)
    .option('--body-limit <bytes>', 'largest request body; beyond, 413 (16 MiB)', integer)
    .option('--max-pixels <n>', 'largest image width x height, checked before decoding (40000000)', integer)
    .option('--top-k <k>', 'classes per task when a request does not say (5)', integer)
    .addHelpText(
      'after',
      '\nExample:\n  $ vpt-native serve --weights models/vit_b16 --task cub=runs/cub/best.safetensors --task dogs=runs/dogs/best.safetensors\n  $ curl --data-binary @bird.jpg http://127.0.0.1:8080/v1/tasks/cub/predict',
    )
    .action(async (f: ServeFlags) => {
      const server = await serve({
        weights: f.weights,
        tasks: f.task ?? {},
        ...(f.preprocess ? { preprocess: f.preprocess } : {}),
        ...(f.tasksDir ? { tasksDir: f.tasksDir } : {}),
        ...(f.arch ? { arch: f.arch } : {}),
        ...(f.device ? { device: f.device } : {}),
        host: f.host,
        port: f.port,
        ...(f.maxBatch !== undefined ? { maxBatch: f.maxBatch } : {}),
        ...(f.maxWaitMs !== undefined ? { maxWaitMs: f.maxWaitMs } : {}),
        ...(f.maxQueue !== undefined ? { maxQueue: f.maxQueue } : {}),
        ...(f.timeoutMs !== undefined ? { timeoutMs: f.timeoutMs } : {}),
        ...(f.bodyLimit !== undefined ? { bodyLimit: f.bodyLimit } : {}),
        ...(f.maxPixels !== undefined ? { maxPixels: f.maxPixels } : {}),
        ...(f.topK !== undefined ? { topK: f.topK } : {}),
      });
      const names = server.model.tasks.map((t) => t.name).join(', ');
      process.stderr.write(`vpt-native serve: listening on ${server.url} (tasks: ${names})\n`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      process.stderr.write(`vpt-native serve: ${signal}: not accepting, answering the requests in flight\n`);
      await server.close();
      process.stderr.write('vpt-native serve: stopped\n');
    });
}
