import type { Command } from 'commander';
import { maskSecrets } from '../config/load.js';
import { configOf } from './context.js';

export function configCommands(program: Command): void {
  program
    .command('config')
    .description('configuration')
    .command('print')
    .description('print the effective configuration (file, then PARLEY_* overrides), secrets masked')
    .action((_options, command: Command) => {
      console.log(JSON.stringify(maskSecrets(configOf(command)), null, 2));
    });
}
