import { AVATAR_URL, DISPLAY_NAME } from '../accounts/rules.js';
import { Invalid } from '../errors.js';
import {
  BOT_KINDS,
  BOT_VISIBILITIES,
  type Bot,
  type BotCommand,
  type BotVariable,
  type GenerationParams,
} from './model.js';

/**
 * Bot rules, in one place for every surface. API schemas reuse these numbers, so the OpenAPI
 * document states exactly what the core enforces.
 */
export const BOT_NAME = {
  minLength: 2,
  maxLength: 64,
  /**
   * Lower-case letters, digits, `-` and `_`, starting with a letter. Ids are ULIDs, which start with
   * a digit and are upper case, so a path segment is either a name or an id, never both.
   */
  pattern: '^[a-z][a-z0-9_-]*$',
} as const;

export const BOT_DISPLAY_NAME = { minLength: 1, maxLength: DISPLAY_NAME.maxLength } as const;
export const BOT_DESCRIPTION = { maxLength: 1000 } as const;
export const BOT_AVATAR_URL = AVATAR_URL;
export const SYSTEM_PROMPT = { maxLength: 20_000 } as const;
export const BOT_MODEL = { minLength: 1, maxLength: 200 } as const;
export const WEBHOOK_URL = { maxLength: 2048, pattern: '^https?://' } as const;

export const TEMPERATURE = { minimum: 0, maximum: 2 } as const;
export const TOP_P = { minimum: 0, maximum: 1 } as const;
export const MAX_TOKENS = { minimum: 1, maximum: 1_000_000 } as const;

/** Template variable names, both declared by bots and given by conversations. */
export const VARIABLE_NAME = { maxLength: 64, pattern: '^[a-z_][a-z0-9_]*$' } as const;
export const VARIABLE_VALUE = { maxLength: 2000 } as const;
export const VARIABLE_DESCRIPTION = { maxLength: 500 } as const;
export const MAX_DECLARED_VARIABLES = 50;
/** How many variable values one conversation may set. */
export const MAX_VARIABLE_VALUES = 32;
/** Filled in by Parley itself; neither declared nor set by a conversation. */
export const BUILTIN_VARIABLES = ['user_name', 'bot_name', 'date', 'group_name'] as const;

export const COMMAND_ALIAS = { minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' } as const;
export const COMMAND_DESCRIPTION = { maxLength: 200 } as const;
export const COMMAND_PROMPT = { minLength: 1, maxLength: 5000 } as const;
export const MAX_COMMANDS = 50;
/** Answered by Parley itself, so no bot may define it. */
export const HELP_ALIAS = 'help';

const botNamePattern = new RegExp(BOT_NAME.pattern);
const variableNamePattern = new RegExp(VARIABLE_NAME.pattern);
const aliasPattern = new RegExp(COMMAND_ALIAS.pattern);
const builtinVariables = new Set<string>(BUILTIN_VARIABLES);

export function isBotName(value: string): boolean {
  return value.length >= BOT_NAME.minLength && value.length <= BOT_NAME.maxLength && botNamePattern.test(value);
}

export function checkBotName(name: string): void {
  if (!isBotName(name)) {
    throw new Invalid(
      `name must be ${BOT_NAME.minLength}-${BOT_NAME.maxLength} lower-case letters, digits, "-" or "_", starting with a letter`,
      'name',
    );
  }
}

export function checkLength(value: string, limits: { minLength?: number; maxLength: number }, field: string): void {
  const min = limits.minLength ?? 0;
  if (value.length < min || value.length > limits.maxLength) {
    throw new Invalid(
      min
        ? `${field} must be ${min}-${limits.maxLength} characters`
        : `${field} must be at most ${limits.maxLength} characters`,
      field,
    );
  }
}

export function checkHttpUrl(value: string, maxLength: number, field: string): void {
  let protocol = '';
  try {
    protocol = new URL(value).protocol;
  } catch {
    // Reported below, like any other URL that is not http(s).
  }
  if (value.length > maxLength || (protocol !== 'http:' && protocol !== 'https:')) {
    throw new Invalid(`${field} must be an http(s) URL of at most ${maxLength} characters`, field);
  }
}

export function checkParams(params: GenerationParams): void {
  const inRange = (value: number | undefined, range: { minimum: number; maximum: number }, field: string) => {
    if (value !== undefined && !(value >= range.minimum && value <= range.maximum)) {
      throw new Invalid(`${field} must be between ${range.minimum} and ${range.maximum}`, `params.${field}`);
    }
  };
  inRange(params.temperature, TEMPERATURE, 'temperature');
  inRange(params.topP, TOP_P, 'topP');
  inRange(params.maxTokens, MAX_TOKENS, 'maxTokens');
  if (params.maxTokens !== undefined && !Number.isInteger(params.maxTokens)) {
    throw new Invalid('maxTokens must be an integer', 'params.maxTokens');
  }
}

function checkVariableName(name: string, field: string): void {
  if (name.length > VARIABLE_NAME.maxLength || !variableNamePattern.test(name)) {
    throw new Invalid(
      `Variable names are 1-${VARIABLE_NAME.maxLength} lower-case letters, digits or "_", not starting with a digit: ${JSON.stringify(name.slice(0, VARIABLE_NAME.maxLength))} is not`,
      field,
    );
  }
  if (builtinVariables.has(name)) {
    throw new Invalid(`"${name}" is filled in by Parley, like ${BUILTIN_VARIABLES.join(', ')}`, field);
  }
}

export function checkDeclaredVariables(variables: readonly BotVariable[]): void {
  if (variables.length > MAX_DECLARED_VARIABLES) {
    throw new Invalid(`A bot declares at most ${MAX_DECLARED_VARIABLES} variables`, 'variables');
  }
  const seen = new Set<string>();
  variables.forEach((variable, i) => {
    checkVariableName(variable.name, `variables.${i}.name`);
    if (seen.has(variable.name))
      throw new Invalid(`variable "${variable.name}" is declared twice`, `variables.${i}.name`);
    seen.add(variable.name);
    checkLength(variable.description, VARIABLE_DESCRIPTION, `variables.${i}.description`);
    checkLength(variable.default, VARIABLE_VALUE, `variables.${i}.default`);
  });
}

export function checkCommands(commands: readonly BotCommand[]): void {
  if (commands.length > MAX_COMMANDS) throw new Invalid(`A bot has at most ${MAX_COMMANDS} commands`, 'commands');
  const seen = new Set<string>();
  commands.forEach((command, i) => {
    const field = `commands.${i}.alias`;
    if (command.alias.length > COMMAND_ALIAS.maxLength || !aliasPattern.test(command.alias)) {
      throw new Invalid(`alias must be 1-${COMMAND_ALIAS.maxLength} letters, digits, "-" or "_"`, field);
    }
    // Commands are matched regardless of case, so aliases must differ regardless of case.
    const alias = command.alias.toLowerCase();
    if (alias === HELP_ALIAS) throw new Invalid(`/${HELP_ALIAS} is answered by Parley and cannot be redefined`, field);
    if (seen.has(alias)) throw new Invalid(`/${command.alias} is defined twice`, field);
    seen.add(alias);
    checkLength(command.description, COMMAND_DESCRIPTION, `commands.${i}.description`);
    if (command.prompt !== null) checkLength(command.prompt, COMMAND_PROMPT, `commands.${i}.prompt`);
  });
}

/**
 * Variable values a conversation sets. With a bot only the variables it declares may be set;
 * without one, any well-formed name.
 */
export function checkVariableValues(declared: readonly BotVariable[] | null, values: Record<string, string>): void {
  const entries = Object.entries(values);
  if (entries.length > MAX_VARIABLE_VALUES) {
    throw new Invalid(`At most ${MAX_VARIABLE_VALUES} variables may be set`, 'variables');
  }
  const allowed = declared && new Set(declared.map((v) => v.name));
  for (const [name, value] of entries) {
    const wellFormed = name.length <= VARIABLE_NAME.maxLength && variableNamePattern.test(name);
    const field = wellFormed ? `variables.${name}` : 'variables';
    checkVariableName(name, field);
    if (allowed && !allowed.has(name)) throw new Invalid(`The bot declares no variable "${name}"`, field);
    checkLength(value, VARIABLE_VALUE, field);
  }
}

/** Everything a stored bot must satisfy, whoever created or changed it. */
export function checkBot(bot: Bot): void {
  checkBotName(bot.name);
  checkLength(bot.displayName, BOT_DISPLAY_NAME, 'displayName');
  checkLength(bot.description, BOT_DESCRIPTION, 'description');
  if (bot.avatarUrl !== null) checkHttpUrl(bot.avatarUrl, BOT_AVATAR_URL.maxLength, 'avatarUrl');
  checkLength(bot.systemPrompt, SYSTEM_PROMPT, 'systemPrompt');
  if (bot.model !== null) checkLength(bot.model, BOT_MODEL, 'model');
  checkParams(bot.params);
  checkDeclaredVariables(bot.variables);
  checkCommands(bot.commands);
  if (!BOT_VISIBILITIES.includes(bot.visibility)) {
    throw new Invalid(`visibility must be one of ${BOT_VISIBILITIES.join(', ')}`, 'visibility');
  }
  if (!BOT_KINDS.includes(bot.kind)) throw new Invalid(`kind must be one of ${BOT_KINDS.join(', ')}`, 'kind');
  if (bot.kind === 'external' && bot.webhookUrl === null) {
    throw new Invalid('An external bot needs the webhookUrl its messages are sent to', 'webhookUrl');
  }
  if (bot.kind === 'ai' && bot.webhookUrl !== null) {
    throw new Invalid('Only external bots have a webhookUrl', 'webhookUrl');
  }
  if (bot.webhookUrl !== null) checkHttpUrl(bot.webhookUrl, WEBHOOK_URL.maxLength, 'webhookUrl');
}
