import type { Bot } from './model.js';
import { BUILTIN_VARIABLES } from './rules.js';

/** What Parley knows about the moment a system prompt is rendered. */
export interface PromptContext {
  userName: string;
  groupName: string;
  now: number;
}

/** `{{name}}`, with optional spaces inside the braces. */
const PLACEHOLDER = /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/g;
const builtinVariables = new Set<string>(BUILTIN_VARIABLES);

/**
 * Fills in every placeholder that names a value and leaves the others as written. One pass over the
 * template: a value that itself looks like a placeholder is inserted as is, never expanded.
 */
export function renderTemplate(template: string, values: ReadonlyMap<string, string>): string {
  return template.replace(PLACEHOLDER, (placeholder, name: string) => values.get(name) ?? placeholder);
}

/**
 * A conversation's own template, else its bot's, rendered with the built-in variables, the bot's
 * declared defaults and the conversation's values. With a bot, only the variables it declares take
 * a conversation's value: one it no longer declares stays as written.
 */
export function renderSystemPrompt(
  bot: Bot | null,
  conversation: { systemPrompt: string | null; variables: Record<string, string> },
  context: PromptContext,
): string {
  const values = new Map<string, string>([
    ['user_name', context.userName],
    ['bot_name', bot?.displayName ?? ''],
    ['date', new Date(context.now).toISOString().slice(0, 10)],
    ['group_name', context.groupName],
  ]);
  for (const variable of bot?.variables ?? []) values.set(variable.name, variable.default);
  for (const [name, value] of Object.entries(conversation.variables)) {
    const settable = bot ? bot.variables.some((v) => v.name === name) : !builtinVariables.has(name);
    if (settable) values.set(name, value);
  }
  return renderTemplate(conversation.systemPrompt ?? bot?.systemPrompt ?? '', values);
}
