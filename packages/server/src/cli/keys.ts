import { type Command, InvalidArgumentError } from 'commander';
import { withRuntime } from './context.js';

const DAY_MS = 24 * 3600 * 1000;

function parseDays(value: string): number {
  const days = Number(value);
  if (!Number.isFinite(days) || days <= 0) throw new InvalidArgumentError('must be a positive number of days');
  return days;
}

export function keyCommands(program: Command): void {
  const key = program.command('key').description('manage API keys');

  key
    .command('create <username>')
    .description('create an API key for a user and print it (it is shown only once)')
    .option('--name <name>', 'a name to recognise the key by', 'cli')
    .option('--expires-in-days <days>', 'expire the key after this many days', parseDays)
    .action(async (username: string, options: { name: string; expiresInDays?: number }, command: Command) => {
      await withRuntime(command, async ({ core }) => {
        const user = await core.users.getByUsername(username);
        const expiresAt = options.expiresInDays ? Date.now() + options.expiresInDays * DAY_MS : null;
        const created = await core.apiKeys.create(user, { name: options.name, expiresAt });
        console.log(`created key ${created.id} (${created.name}) for ${user.username}`);
        console.log(`key: ${created.secret}`);
      });
    });

  key
    .command('list <username>')
    .description("list a user's API keys")
    .action(async (username: string, _options, command: Command) => {
      await withRuntime(command, async ({ core }) => {
        const user = await core.users.getByUsername(username);
        const keys = await core.apiKeys.list(user);
        if (!keys.length) console.log(`${user.username} has no API keys`);
        for (const k of keys) {
          const state = k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt <= Date.now() ? 'expired' : 'active';
          const used = k.lastUsedAt ? new Date(k.lastUsedAt).toISOString() : 'never';
          console.log(`${k.id}  ${k.prefix}…  ${state.padEnd(7)}  last used ${used}  ${k.name}`);
        }
      });
    });

  key
    .command('revoke <id>')
    .description('revoke an API key by id; it is refused at once, also by a running server')
    .action(async (id: string, _options, command: Command) => {
      await withRuntime(command, async ({ core }) => {
        await core.apiKeys.revoke('operator', id);
        console.log(`revoked key ${id}`);
      });
    });
}
