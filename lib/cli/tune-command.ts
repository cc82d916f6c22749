/** `vpt-native tune`: the train flags plus the grid, selection, final-run and pruning flags. */
import { type Command, InvalidArgumentError, Option } from 'commander';

import { resolveCliConfig } from '../config/config-sources.js';
import { distributedFromEnv } from '../distributed/environment.js';
import { launchLocalWorkers } from '../distributed/local-launcher.js';
import { ErrorCode, VptError } from '../errors.js';
import { tune } from '../tune/tune.js';
import { resolveTuneConfig, type TuneConfig } from '../tune/tune-config.js';
import { ExitCode } from './exit-codes.js';
import { withInterrupt } from './interrupt.js';
import { addTrainFlags, commandLineFlags, positiveInteger, workerArgv } from './train-command.js';
import { createTuneReporter } from './tune-reporter.js';

/** Commander parser for a comma-separated list of numbers ("50,25,10"). */
export function numberList(v: string): number[] {
  const items = v.split(',').map((s) => s.trim());
  const values = items.map(Number);
  const bad = items.find((s, i) => s === '' || !Number.isFinite(values[i]));
  if (bad !== undefined) throw new InvalidArgumentError(`expected comma-separated numbers, got "${v}".`);
  return values;
}

/** `--seeds 42,44,82` or `--seeds 42,` (the seeds: a trailing comma makes one a list) or `--seeds 3` (that many of VPT's). */
export function seedsOption(v: string): number | number[] {
  const list = v.trim().endsWith(',') ? v.trim().slice(0, -1) : v;
  const values = numberList(list);
  return values.length === 1 && !v.includes(',') ? values[0]! : values;
}

/** Train flags a tune sets per trial (--base-lr, --weight-decay, --prompt-tokens) or cannot take. */
const REPLACED_FLAGS = new Set(['--base-lr', '--weight-decay', '--prompt-tokens', '--resume', '--dist-backend']);

/** Starts `nproc` local ranks running this command line (without --nproc); they share the search. */
async function runLocalRanks(nproc: number): Promise<void> {
  const failed: string[] = [];
  const code = await launchLocalWorkers({
    nproc,
    argv: workerArgv(),
    graceSeconds: 10,
    onExit: (rank, exit, signal) => {
      if (exit !== 0) failed.push(`rank ${rank} ${signal ? `was killed by ${signal}` : `exited with code ${exit}`}`);
    },
  });
  if (code === ExitCode.Interrupted)
    throw new DOMException('the ranks stopped; finished epochs are kept, --resume continues', 'AbortError');
  if (code !== 0) throw new VptError(ErrorCode.Distributed, `tune over ${nproc} ranks failed: ${failed.join('; ')}`);
}

/** Tune flags and the TuneConfig keys they set. */
const TUNE_FLAG_KEYS = [
  'seeds',
  'seedCount',
  'select',
  'finalOn',
  'prune',
  'rungs',
  'keep',
  'graceEpochs',
  'rungSchedule',
  'groupSize',
  'stackedStep',
  'resume',
] as const;

export function registerTuneCommand(program: Command): void {
  const cmd = addTrainFlags(program.command('tune'));
  // The flags the grid replaces come out of the train flags (commander would refuse them twice).
  const options = cmd.options as Option[];
  for (let i = options.length - 1; i >= 0; i--) if (REPLACED_FLAGS.has(options[i]!.long ?? '')) options.splice(i, 1);
  cmd
    .description("VPT's protocol: a lr x wd grid selected on val, then the chosen config over several seeds")
    .option('--lr <list>', "base learning rates, e.g. 50,25,10 (default: KMnP/vpt's grid for --transfer)", numberList)
    .option('--wd <list>', 'weight decays, e.g. 0.01,0.001,0.0001,0 (default: the same)', numberList)
    .option('--prompt-tokens <list>', 'prompt tokens, one value or several to search, e.g. 5,10,50', numberList)
    .option('--search-deep', 'search VPT-shallow and VPT-deep both')
    .option(
      '--seeds <list|n>',
      'final runs: seeds 42,44,82,100,800 (one seed: 42,), or how many of those up to 10 (5); 0: none',
      seedsOption,
    )
    .option(
      '--seed-count <n>',
      'final runs: how many of VPT seeds (42, 44, 82, 100, 800, then 1000...), up to 100',
      Number,
    )
    .addOption(
      new Option('--select <rule>', "val top-1 of the last epoch (VPT's rule) or of the best (last)").choices([
        'last',
        'best',
      ]),
    )
    .addOption(
      new Option('--final-on <split>', 'final runs train on train, or on train + val (train)').choices([
        'train',
        'trainval',
      ]),
    )
    .addOption(
      new Option('--prune <mode>', 'successive halving on val top-1 at the rungs, or none (none)').choices([
        'none',
        'halving',
      ]),
    )
    .option('--rungs <list>', 'halving: epochs at which configs are ranked (default: epochs x keep^k)', numberList)
    .option('--keep <fraction>', 'halving: fraction of the configs a rung keeps (0.3333)', Number)
    .option(
      '--grace-epochs <n>',
      'halving: no default rung before this many epochs (default: 1 with --rung-schedule restart, --warmup-epochs + 1 with continue)',
      positiveInteger,
    )
    .addOption(
      new Option(
        '--rung-schedule <mode>',
        'halving: each rung trains complete runs of its length, restarted (restart), or ranks configs mid-schedule (continue)',
      ).choices(['continue', 'restart']),
    )
    .option(
      '--group-size <n>',
      'configs trained together on one loader pass (default: what memory holds)',
      positiveInteger,
    )
    .addOption(
      new Option(
        '--stacked-step <mode>',
        "a group's trials step together in one native call: where timed faster, always, or never (auto)",
      ).choices(['auto', 'on', 'off']),
    )
    .option('--resume', 'continue the tune in --out: finished trials are kept, unfinished ones continue')
    .option('--force', 'replace a tune already in --out')
    .option('--config <file>', 'YAML or JSON file with train config keys and tune keys (grid, seeds, select, ...)')
    .option('--vpt-config <file>', "the original VPT repo's yacs YAML (e.g. configs/prompt/cub.yaml)")
    .option('--quiet', 'print nothing but errors and the final line')
    .option('--json', 'print machine-readable progress events, one JSON object per line')
    .option(
      '--nproc <n>',
      'spread the configs over N local ranks (as torchrun --nproc-per-node N; one GPU each with --device cuda)',
      positiveInteger,
    )
    .addHelpText(
      'after',
      `
Examples:
  $ vpt-native prepare-cub data/CUB_200_2011 --val-fraction 0.1 --force
  $ vpt-native tune --data data/CUB_200_2011 --weights models/vit_base_patch16_224.augreg_in21k \\
      --out runs/cub-tune --deep --prompt-tokens 10 --epochs 100 --prune halving --seeds 5
  $ vpt-native tune --config cub.yaml --lr 10,1,0.1 --wd 0.001,0 --out runs/small --seeds 42,44
  $ vpt-native tune --resume --config cub.yaml --out runs/cub-tune
  $ vpt-native tune --nproc 8 --device cuda --config cub.yaml --out runs/cub-tune-8gpu`,
    )
    .action(async (_parsed: Record<string, unknown>, command: Command) => {
      const flags = commandLineFlags(command);
      const { lr, wd, promptTokens, searchDeep, ...rest } = flags;
      const trainFlags = Object.fromEntries(
        Object.entries(rest).filter(([k]) => !(TUNE_FLAG_KEYS as readonly string[]).includes(k)),
      );
      const { config, notes } = await resolveCliConfig(trainFlags);
      for (const note of notes) process.stderr.write(`vpt-native: ${note}\n`);
      const merged = config as Record<string, unknown>;
      const fromFile = (merged.grid ?? {}) as Record<string, unknown>;
      const tokens = promptTokens as number[] | undefined;
      const grid = {
        ...fromFile,
        ...(lr ? { lr } : {}),
        ...(wd ? { wd } : {}),
        ...(tokens && tokens.length > 1 ? { promptTokens: tokens } : {}),
        ...(searchDeep ? { deep: [false, true] } : {}),
      };
      const tuneConfig = {
        ...merged,
        ...(tokens && tokens.length === 1 ? { promptTokens: tokens[0] } : {}),
        grid,
        ...Object.fromEntries(TUNE_FLAG_KEYS.filter((k) => rest[k] !== undefined).map((k) => [k, rest[k]])),
        ...(flags.force === true ? { overwrite: true } : {}),
      } as TuneConfig;
      // Checked once here, before any rank starts: a bad grid is one error (exit 2), not one per rank.
      if (typeof flags.nproc === 'number' && flags.nproc > 1 && !process.env.WORLD_SIZE) {
        resolveTuneConfig(tuneConfig, (id) => id);
        await runLocalRanks(flags.nproc);
        return;
      }
      const report = createTuneReporter(
        flags.json ? 'json' : flags.quiet ? 'quiet' : 'auto',
        tuneConfig.select ?? 'last',
      );
      const summary = await withInterrupt((signal) => tune(tuneConfig, { onProgress: report, signal }));
      if (flags.quiet && (distributedFromEnv()?.rank ?? 0) === 0)
        process.stdout.write(
          `chosen ${summary.chosen.id}: val top-1 ${summary.valTop1}, test top-1 ${summary.testTop1Mean ?? 'n/a'} +- ${summary.testTop1Std ?? 'n/a'}\n`,
        );
    });
}
