#!/usr/bin/env node
/** The vpt-native command line: one file per command under lib/cli/. */
import { Command } from 'commander';
import { registerClsEmbeddingsCommand } from '../lib/cli/cls-embeddings-command.js';
import { registerDatasetsCommand } from '../lib/cli/datasets-command.js';
import { registerDemoCommand } from '../lib/cli/demo-command.js';
import { registerEvalCommand } from '../lib/cli/eval-command.js';
import { ExitCode, reportError } from '../lib/cli/exit-codes.js';
import { registerInfoCommand } from '../lib/cli/info-command.js';
import { registerPredictCommand } from '../lib/cli/predict-command.js';
import { registerPrepareCommand } from '../lib/cli/prepare-command.js';
import { registerPrepareCubCommand } from '../lib/cli/prepare-cub-command.js';
import { registerServeCommand } from '../lib/cli/serve-command.js';
import { ADDON_MISSING_EXIT, offerSetup, registerSetupCommand } from '../lib/cli/setup-command.js';
import { registerSynthCommand } from '../lib/cli/synth-command.js';
import { registerTrainCommand } from '../lib/cli/train-command.js';
import { registerTuneCommand } from '../lib/cli/tune-command.js';
import { ErrorCode, VptError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';

const program = new Command();
program
  .name('vpt-native')
  .description('Visual Prompt Tuning for timm Vision Transformers, on LibTorch')
  .version(VERSION, '-V, --version')
  .showHelpAfterError()
  .exitOverride();

registerDemoCommand(program);
registerTrainCommand(program);
registerEvalCommand(program);
registerPredictCommand(program);
registerPrepareCommand(program);
registerPrepareCubCommand(program);
registerDatasetsCommand(program);
registerSynthCommand(program);
registerInfoCommand(program);
registerSetupCommand(program);
registerClsEmbeddingsCommand(program);
registerServeCommand(program);
registerTuneCommand(program);

// The commands that need the addon check for it first: on a terminal they offer `setup`.
const NEEDS_ADDON = new Set(['demo', 'train', 'eval', 'predict', 'cls-embeddings', 'serve', 'tune']);
program.hook('preAction', async (_program, command) => {
  if (NEEDS_ADDON.has(command.name())) await offerSetup();
});

program.parseAsync(process.argv).then(
  () => {
    process.exitCode = ExitCode.Ok;
  },
  (error: unknown) => {
    const code = reportError(error);
    process.exitCode = error instanceof VptError && error.code === ErrorCode.Addon ? ADDON_MISSING_EXIT : code;
  },
);
