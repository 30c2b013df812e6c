import type { Command } from 'commander';
import { createParley } from '../app.js';
import { openDatabase } from '../store/database.js';
import { configOf } from './context.js';

export function serveCommand(program: Command): void {
  program
    .command('serve', { isDefault: true })
    .description('run the server (the default command)')
    .action(async (_options, command: Command) => {
      const config = configOf(command);
      const parley = await createParley(config);
      const { server } = parley;
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        server.log.info({ signal }, 'shutting down: draining requests');
        const force = setTimeout(() => {
          server.log.error('shutdown timed out; exiting');
          process.exit(1);
        }, config.shutdownTimeoutMs);
        force.unref();
        parley.close().then(
          () => server.log.info('stopped'),
          (err: unknown) => {
            server.log.error({ err }, 'shutdown failed');
            process.exitCode = 1;
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      try {
        await server.listen({ port: config.port, host: config.host });
      } catch (err) {
        await parley.close();
        throw err;
      }
    });
}

export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations (the server also applies them at start)')
    .action(async (_options, command: Command) => {
      const config = configOf(command);
      const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
      try {
        const applied = await database.migrate();
        console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      } finally {
        await database.close();
      }
    });
}
