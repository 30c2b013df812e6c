import type { Bot, BotCommand } from './model.js';
import { HELP_ALIAS } from './rules.js';

/** What a user's message asks of a bot. */
export type CommandOutcome =
  /** Answered by Parley itself (e.g. `/help`), without a model. */
  | { kind: 'reply'; text: string }
  /** Sent to the model as this text instead of the message as typed. */
  | { kind: 'prompt'; text: string }
  /** A plain message. */
  | { kind: 'message' };

const HELP_COMMAND: BotCommand = {
  alias: HELP_ALIAS,
  description: 'List the commands of this bot',
  prompt: null,
};

/**
 * `/alias`, then whitespace or the end: `/etc/hosts` is a path, not the command `etc`. Aliases match
 * regardless of case.
 */
const INVOCATION = /^\/([A-Za-z0-9_-]+)(?:\s+([\s\S]*))?$/;
const INPUT = /\{\{\s*input\s*\}\}/;
const EVERY_INPUT = new RegExp(INPUT.source, 'g');
const PLAIN_MESSAGE: CommandOutcome = { kind: 'message' };

export function commandsOf(bot: Bot): BotCommand[] {
  return [HELP_COMMAND, ...bot.commands];
}

export function interpretMessage(bot: Bot | null, content: string): CommandOutcome {
  const match = bot && INVOCATION.exec(content.trim());
  if (!bot || !match) return PLAIN_MESSAGE;
  const alias = match[1]!.toLowerCase();
  const args = (match[2] ?? '').trim();
  if (alias === HELP_ALIAS) return { kind: 'reply', text: helpText(bot) };
  const command = bot.commands.find((c) => c.alias.toLowerCase() === alias);
  // A command without a prompt is the bot's own business (an external bot reads it as typed).
  if (!command?.prompt) return PLAIN_MESSAGE;
  return { kind: 'prompt', text: expand(command.prompt, args) };
}

function expand(prompt: string, args: string): string {
  if (INPUT.test(prompt)) return prompt.replace(EVERY_INPUT, () => args);
  return args ? `${prompt}\n\n${args}` : prompt;
}

function helpText(bot: Bot): string {
  const lines = commandsOf(bot).map((c) => (c.description ? `/${c.alias} — ${c.description}` : `/${c.alias}`));
  return [`Commands of ${bot.displayName}:`, ...lines].join('\n');
}
