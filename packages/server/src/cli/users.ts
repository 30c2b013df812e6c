import { type Command, InvalidArgumentError } from 'commander';
import { TIER_NAMES, type TierName } from '../config/schema.js';
import { withRuntime } from './context.js';

export function parseTier(value: string): TierName {
  if (!(TIER_NAMES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`tier must be one of ${TIER_NAMES.join(', ')}`);
  }
  return value as TierName;
}

export function userCommands(program: Command): void {
  const user = program.command('user').description('manage users');

  user
    .command('create <username>')
    .description('create a user; without a password one is generated and printed once')
    .option('--admin', 'make the user an admin')
    .option('--tier <tier>', `one of ${TIER_NAMES.join(', ')}`, parseTier)
    .option('--password <password>', 'the password (else PARLEY_USER_PASSWORD, else generated)')
    .action(
      async (username: string, options: { admin?: boolean; tier?: TierName; password?: string }, command: Command) => {
        await withRuntime(command, async ({ core }) => {
          const created = await core.users.create({
            username,
            password: options.password ?? process.env.PARLEY_USER_PASSWORD,
            role: options.admin ? 'admin' : 'first-user-admin',
            tier: options.tier,
          });
          console.log(
            `created user ${created.username} (id ${created.id}, role ${created.role}, tier ${created.tier})`,
          );
          if (created.generatedPassword) console.log(`password: ${created.generatedPassword}`);
        });
      },
    );

  user
    .command('set-tier <username> <tier>')
    .description("change a user's tier")
    .action(async (username: string, tier: string, _options, command: Command) => {
      const parsed = parseTier(tier);
      await withRuntime(command, async ({ core }) => {
        const target = await core.users.getByUsername(username);
        const updated = await core.users.adminUpdate('operator', target.id, { tier: parsed });
        console.log(`${updated.username} is now on tier ${updated.tier}`);
      });
    });
}
