#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { VERSION } from '../app.js';
import { ConfigError } from '../config/load.js';
import { DomainError } from '../core/errors.js';
import { configCommands } from './config.js';
import { keyCommands } from './keys.js';
import { modelCommands } from './models.js';
import { migrateCommand, serveCommand } from './serve.js';
import { userCommands } from './users.js';

const program = new Command('parley')
  .description('Parley, a self-hosted AI chat platform server')
  .version(VERSION)
  .option('-c, --config <file>', 'config file (default: PARLEY_CONFIG, else ./parley.config.{json,yaml,yml})')
  .showHelpAfterError();

serveCommand(program);
migrateCommand(program);
userCommands(program);
keyCommands(program);
configCommands(program);
modelCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // One line for the operator (a bad setting, a port in use, an unreachable database); the whole
  // error with its stack when asked for.
  const expected = err instanceof ConfigError || err instanceof DomainError || err instanceof InvalidArgumentError;
  if (/^(debug|trace)$/.test(process.env.PARLEY_LOG_LEVEL ?? '')) console.error(err);
  else console.error(`parley: ${(err as Error).message}${expected ? '' : ' (PARLEY_LOG_LEVEL=debug shows details)'}`);
  process.exitCode = 1;
}
