#!/usr/bin/env node
/** The vpt-native command line: one file per command under lib/cli/. */
import { Command } from 'commander';

import { ExitCode, reportError } from '../lib/cli/exit-codes.js';
import { registerDemoCommand } from '../lib/cli/demo-command.js';
import { registerEvalCommand } from '../lib/cli/eval-command.js';
import { registerInfoCommand } from '../lib/cli/info-command.js';
import { registerPrepareCubCommand } from '../lib/cli/prepare-cub-command.js';
import { registerSynthCommand } from '../lib/cli/synth-command.js';
import { registerPredictCommand } from '../lib/cli/predict-command.js';
import { registerTrainCommand } from '../lib/cli/train-command.js';
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
registerPrepareCubCommand(program);
registerSynthCommand(program);
registerInfoCommand(program);

program.parseAsync(process.argv).then(
  () => { process.exitCode = ExitCode.Ok; },
  (error: unknown) => { process.exitCode = reportError(error); },
);
