/** `vpt-native train`: flags, config files (see lib/config/config-sources.ts), progress. */
import { type Command, InvalidArgumentError, Option } from 'commander';

import { resolveCliConfig } from '../config/config-sources.js';
import { type ResolvedTrainConfig, resolveTrainConfig, type TrainConfig } from '../config/train-config.js';
import { openDataset } from '../data/dataset.js';
import { distributedFromEnv } from '../distributed/environment.js';
import { launchLocalWorkers } from '../distributed/local-launcher.js';
import { ErrorCode, VptError } from '../errors.js';
import { VPT_HEAD_BIAS } from '../model/head-init.js';
import { PROMPT_INITS, PROMPT_LOCATIONS, PROMPT_POOLS, type Transfer, transferSchema } from '../model/options.js';
import { SELF_SUPERVISED } from '../model/self-supervised.js';
import { checkDistributedOptions, train } from '../train/train.js';
import { ExitCode } from './exit-codes.js';
import { withInterrupt } from './interrupt.js';
import { createReporter } from './progress-reporter.js';

const num = (v: string) => Number(v);

/** Commander parser for flags that take an integer >= 1 (a usage error, exit 2, otherwise). */
export function positiveInteger(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer >= 1.');
  return n;
}

/** Commander parser for flags that take an integer >= 0 (a usage error, exit 2, otherwise). */
export function nonNegativeInteger(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer >= 0.');
  return n;
}

/** This command line without `--nproc N`, run once per rank by the local launcher. */
export function workerArgv(): string[] {
  const args = process.argv.slice(2);
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--nproc') i++;
    else if (!args[i]!.startsWith('--nproc=')) kept.push(args[i]!);
  }
  return [process.execPath, ...process.execArgv, process.argv[1]!, ...kept];
}

async function runLocalWorkers(nproc: number): Promise<void> {
  const failed: string[] = [];
  const codes: Array<number | null> = [];
  const code = await launchLocalWorkers({
    nproc,
    argv: workerArgv(),
    graceSeconds: 10,
    onExit: (rank, exit, signal) => {
      codes.push(exit);
      if (exit !== 0) failed.push(`rank ${rank} ${signal ? `was killed by ${signal}` : `exited with code ${exit}`}`);
    },
  });
  if (code === ExitCode.Interrupted)
    throw new DOMException('the workers stopped; the state was saved to last.state.safetensors', 'AbortError');
  // Every worker refused the options (each printed why; the launcher checked all but the
  // data-parallel ones, which train() checks per rank): a usage error, exit 2, as without --nproc.
  if (codes.every((c) => c === ExitCode.Usage))
    throw new VptError(ErrorCode.Option, `every worker refused the options (${failed.join('; ')})`);
  if (code !== 0) throw new VptError(ErrorCode.Distributed, `data-parallel training failed: ${failed.join('; ')}`);
}

/** `--transfer`: prompt, linear, full, bias, adapter or partial-k. */
function transferMode(v: string): Transfer {
  const parsed = transferSchema.safeParse(v);
  if (!parsed.success)
    throw new InvalidArgumentError(
      'expected prompt, linear, full, bias, adapter, sidetune or partial-k (k a number of blocks).',
    );
  return parsed.data;
}

/** `--head-bias x|vpt`: a number, or VPT's -log(99). */
function headBias(v: string): number {
  if (v === 'vpt') return VPT_HEAD_BIAS;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number or vpt.');
  return n;
}

/** `--backbone-dtype fp32|bf16`, stored as TrainConfig's 'float32' | 'bfloat16'. */
function backboneDtypeOption(): Option {
  const dtypes: Record<string, 'float32' | 'bfloat16'> = { fp32: 'float32', bf16: 'bfloat16' };
  return new Option(
    '--backbone-dtype <dtype>',
    'frozen backbone weights in fp32, or bf16: half the memory, backbone runs in bf16; not with --transfer full (fp32)',
  )
    .choices(Object.keys(dtypes))
    .argParser((v: string) => {
      const dtype = dtypes[v];
      if (!dtype) throw new InvalidArgumentError(`Allowed choices are ${Object.keys(dtypes).join(', ')}.`);
      return dtype;
    });
}

/**
 * Flags that map one-to-one onto TrainConfig keys (commander camel-cases them). Every boolean key
 * has both `--x` and `--no-x`, so either value can override a config file.
 */
export function addTrainFlags(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'dataset root: images/ + train.json / val.json / test.json')
    .option('--weights <path>', 'backbone: .safetensors / .npz, or a folder with model.safetensors + config.json')
    .option('--arch <name>', 'timm architecture when the weights have no config.json, e.g. vit_base_patch16_224')
    .option('--out <dir>', 'run folder')
    .option('--epochs <n>', 'epochs (100)', num)
    .option('--warmup-epochs <n>', 'linear warmup epochs (10)', num)
    .option('--batch-size <n>', 'batch size (128)', num)
    .option('--base-lr <x>', 'base learning rate; lr = base-lr x batch-size / 256 (0.25)', num)
    .addOption(new Option('--optimizer <name>', 'optimizer (sgd)').choices(['sgd', 'adamw']))
    .option('--momentum <x>', 'SGD momentum (0.9)', num)
    .option('--weight-decay <x>', 'weight decay (1e-4)', num)
    .option('--clip-grad-norm <x>', 'clip gradients to this global norm', num)
    .addOption(
      new Option('--schedule-unit <unit>', 'lr schedule per step, or per epoch as VPT (step)').choices([
        'step',
        'epoch',
      ]),
    )
    .option(
      '--transfer <mode>',
      'prompt | linear (head only) | full (fine-tuning) | partial-k (last k blocks) | bias (BitFit) | adapter (Pfeiffer) | sidetune (AlexNet side network)',
      transferMode,
    )
    .option('--adapter-reduction <r>', "--transfer adapter: adapter width = model width / r (VPT's 8)", num)
    .option('--side-weights <file>', "--transfer sidetune: torchvision's AlexNet state dict as .safetensors")
    .option('--head-dropout <p>', "the MLP head's dropout after each hidden layer (VPT's 0.1)", num)
    .option('--prompt-tokens <n>', 'prompt tokens (5)', num)
    .option('--deep', 'VPT-deep: new prompts before every block')
    .option('--no-deep', 'VPT-shallow (default)')
    .option('--prompt-dropout <p>', 'dropout on prompt tokens (0)', num)
    .option('--prompt-project <dim>', 'prompt dimension with a projection to the model width (0 = none)', num)
    .option('--deep-layers <k>', 'VPT-deep in only the first k blocks (with --reverse-deep the last k)', num)
    .option('--reverse-deep', 'with --deep-layers k: prompts in the last k blocks, none below')
    .option('--no-reverse-deep', 'with --deep-layers k: prompts in the first k blocks (default)')
    .option('--deep-shared', 'one prompt set for every prompted block')
    .option('--no-deep-shared', 'a prompt set per block (default)')
    .option('--deep-no-expand', 'drop the prompt rows after the last prompted block (with --deep-layers)')
    .option('--no-deep-no-expand', 'prompt rows run on through the blocks above --deep-layers (default)')
    .addOption(
      new Option(
        '--prompt-pool <type>',
        "what the head reads: original (the backbone's pooling), img_pool, prompt_pool, imgprompt_pool (original)",
      ).choices([...PROMPT_POOLS]),
    )
    .addOption(
      new Option(
        '--prompt-init <init>',
        'random, or from --cls-embeddings: final-cls, cls-nolastl, cls-nofirstl (random)',
      ).choices([...PROMPT_INITS]),
    )
    .addOption(
      new Option(
        '--prompt-location <where>',
        'prepend (after the class token), add (a row added to each token), add-1 (one row added to all); in pixel space, shallow: prepend-pixel[-gaussian|-imgnettransform] (pixel patches through the patch embedding), pad (a border of width --prompt-tokens), below (--prompt-tokens extra input channels) (prepend)',
      ).choices([...PROMPT_LOCATIONS]),
    )
    .option(
      '--cls-embeddings <npy>',
      'class-token embeddings for --prompt-init (vpt-native cls-embeddings writes them)',
    )
    .option('--head-bias <x>', "the head's initial bias: a number, or vpt for VPT's -log(99) (0)", headBias)
    .option('--mlp-layers <n>', "hidden layers in the head, VPT's MLP head: Linear, ReLU, BatchNorm, dropout (0)", num)
    .addOption(
      new Option(
        '--self-supervised <kind>',
        "a self-supervised backbone as VPT runs it: mae (average pooling + fc_norm, prompts pooled too), moco-v3 (class token; MoCo v3's sin-cos pos_embed when absent)",
      ).choices([...SELF_SUPERVISED]),
    )
    .addOption(new Option('--class-weights <mode>', 'class-weighted loss (none)').choices(['none', 'inv', 'inv_sqrt']))
    .option('--augment', 'random crop + flip for training (default)')
    .option('--no-augment', 'train on the eval view (no random crop / flip)')
    .option('--cache-features', 'linear probing without augmentation: compute backbone features once (default)')
    .option('--no-cache-features', 'linear probing without augmentation: recompute backbone features every epoch')
    .option(
      '--normalize <how>',
      "image normalisation: timm (the weights' config.json), vpt (ImageNet mean/std, as VPT), or mean_r,mean_g,mean_b,std_r,std_g,std_b (timm)",
    )
    .option('--crop-size <px>', 'crop size (224); the backbone position embedding is resampled to it', num)
    .addOption(
      new Option(
        '--preprocess <kind>',
        "fgvc: VPT's resize + random / center crop (+ flip); vtab: resize to crop-size x crop-size (bicubic), no crop or flip (default: the dataset's splits.json, else fgvc)",
      ).choices(['fgvc', 'vtab']),
    )
    .option('--device <device>', 'cpu, cuda or cuda:N (default: CUDA when available)')
    .addOption(
      new Option('--precision <p>', 'fp32 or bf16 (default: bf16 on CUDA, fp32 on CPU)').choices(['fp32', 'bf16']),
    )
    .addOption(backboneDtypeOption())
    .option('--checkpoint-blocks', 'activation checkpointing: recompute frozen blocks in backward (less memory)')
    .option('--no-checkpoint-blocks', "keep the frozen blocks' activations for backward (default)")
    .option(
      '--fused-layer-norm',
      'fuse each residual add with the LayerNorm after it and the prompt insertion (less memory)',
    )
    .option('--no-fused-layer-norm', 'run each residual add, LayerNorm and prompt insertion as its own op (default)')
    .option(
      '--skip-discarded-prompt-rows',
      'VPT-deep: compute only the keys and values of prompt rows the next block overwrites (default from 10 prompts)',
    )
    .option('--no-skip-discarded-prompt-rows', 'VPT-deep: compute every row of every block (default below 10 prompts)')
    .option(
      '--cuda-graphs',
      'CUDA: replay the train step as a captured CUDA graph (eager, with a notice, where it cannot be)',
    )
    .option('--no-cuda-graphs', 'run every train step eagerly (default)')
    .option('--seed <n>', 'seed for init, dropout and data order (42)', num)
    .option('--workers <n>', 'image decode workers (all cores)', num)
    .option('--eval-batch-size <n>', 'evaluation batch size (= batch size)', num)
    .addOption(
      new Option('--on-bad-image <policy>', 'what to do with unreadable images (error)').choices(['error', 'skip']),
    )
    .option('--resume <state>', 'continue from a last.state.safetensors')
    .addOption(
      new Option('--dist-backend <name>', 'data-parallel backend: auto = nccl on CUDA, gloo on CPU (auto)').choices([
        'auto',
        'gloo',
        'nccl',
      ]),
    )
    .option(
      '--dist-timeout <s>',
      'data-parallel: a rank that died or hangs stops the others after this many seconds (1800)',
      num,
    );
}

/**
 * The options given on the command line, without the values commander filled in by default:
 * those would override the same keys from --config.
 */
export function commandLineFlags(cmd: Command): Record<string, unknown> {
  return Object.fromEntries(Object.entries(cmd.opts()).filter(([key]) => cmd.getOptionValueSource(key) !== 'default'));
}

/**
 * The merged config (see resolveCliConfig) resolved as train() will resolve it (VptError
 * VPT_OPTION naming the option when it cannot), with DATA.NUMBER_CLASSES of a --vpt-config
 * checked against the dataset.
 */
export async function checkTrainConfig(
  config: TrainConfig,
  numberClasses: number | undefined,
  vptConfig: unknown,
): Promise<ResolvedTrainConfig> {
  const resolved = resolveTrainConfig(config);
  if (numberClasses !== undefined) {
    const found = (await openDataset(resolved.data)).numClasses;
    if (found !== numberClasses) {
      throw new VptError(
        ErrorCode.Option,
        `${String(vptConfig)}: DATA.NUMBER_CLASSES is ${numberClasses} but ${resolved.data} has ${found} classes`,
      );
    }
  }
  return resolved;
}

export function registerTrainCommand(program: Command): void {
  addTrainFlags(program.command('train'))
    .description('train VPT (or linear probing / full fine-tuning) on a VPT-style dataset')
    .option('--config <file>', 'YAML or JSON file with config keys (camelCase, as in the API)')
    .option('--vpt-config <file>', "the original VPT repo's yacs YAML (e.g. configs/prompt/cub.yaml)")
    .option('--quiet', 'print nothing but errors and the final line')
    .option('--json', 'print machine-readable progress events, one JSON object per line')
    .option(
      '--nproc <n>',
      'data-parallel: start N local worker processes (as torchrun --nproc-per-node N); --batch-size is the global batch',
      positiveInteger,
    )
    .option('--force', 'replace a run already in --out (without it such a folder is refused; --resume continues it)')
    .addHelpText(
      'after',
      `
Examples:
  $ vpt-native train --data data/CUB_200_2011 --weights models/vit_base_patch16_224.augreg_in21k \\
      --out runs/cub-deep --deep --prompt-tokens 10 --base-lr 0.25
  $ vpt-native train --vpt-config vpt/configs/prompt/cub.yaml --data data/CUB_200_2011 \\
      --weights models/ViT-B_16.npz --out runs/cub
  $ vpt-native train --resume runs/cub-deep/last.state.safetensors --config runs/cub-deep/config.json
  $ vpt-native train --nproc 4 --device cuda --config cub.yaml --out runs/cub-4gpu
  $ torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend static --node-rank 0 \\
      --master-addr node0 --master-port 29500 --no-python npx vpt-native train --config cub.yaml`,
    )
    .action(async (_parsed: Record<string, unknown>, cmd: Command) => {
      const flags = commandLineFlags(cmd);
      const launcher = typeof flags.nproc === 'number' && flags.nproc > 1 && !process.env.WORLD_SIZE;
      const { config, notes, numberClasses } = await resolveCliConfig(flags);
      const printNotes = () => {
        for (const note of notes) process.stderr.write(`vpt-native: ${note}\n`);
      };
      // Every rank resolves the same config: rank 0 prints the notes; a launcher only when no rank will.
      const isMain = (distributedFromEnv()?.rank ?? 0) === 0;
      if (isMain && !launcher) printNotes();
      // Checked before any worker starts: with --nproc a bad option is one error (exit 2), not one per worker.
      const resolved = await checkTrainConfig(config, numberClasses, flags.vptConfig).catch((error: unknown) => {
        if (launcher) printNotes();
        throw error;
      });
      if (launcher) {
        // The options only a data-parallel run refuses, also once here rather than once per worker.
        try {
          checkDistributedOptions(resolved, { worldSize: flags.nproc as number });
        } catch (error) {
          printNotes();
          throw error;
        }
        await runLocalWorkers(flags.nproc as number);
        return;
      }
      const report = createReporter(flags.json ? 'json' : flags.quiet ? 'quiet' : 'auto');
      const result = await withInterrupt((signal) =>
        train(config, { onProgress: report, signal, overwrite: flags.force === true }),
      );
      // Every rank returns the same result; one line is enough.
      if (flags.quiet && isMain)
        process.stdout.write(
          `best val top-1 ${result.bestValTop1 ?? 'n/a'} (epoch ${result.bestEpoch}); files in ${resolved.out}\n`,
        );
    });
}
