import type { Bot } from './model.js';

/** A bot every installation starts with; admins may edit or delete it like any public bot. */
export type BuiltinBot = Pick<Bot, 'name' | 'displayName' | 'description' | 'systemPrompt' | 'variables' | 'commands'>;

export const BUILTIN_BOTS: readonly BuiltinBot[] = [
  {
    name: 'assistant',
    displayName: 'Assistant',
    description: 'A general assistant for questions, writing and everyday tasks.',
    systemPrompt:
      'You are {{bot_name}}, a helpful assistant talking with {{user_name}}. Today is {{date}}. ' +
      'Answer clearly and concisely, and say so when you are not sure.',
    variables: [],
    commands: [
      {
        alias: 'summarize',
        description: 'Summarize a text in a few sentences',
        prompt: 'Summarize the following text in a few sentences, keeping its key points:\n\n{{input}}',
      },
      {
        alias: 'explain',
        description: 'Explain a topic simply',
        prompt: 'Explain the following simply, step by step, with an example if it helps:\n\n{{input}}',
      },
    ],
  },
  {
    name: 'coder',
    displayName: 'Coder',
    description: 'A programming assistant: writes, explains and reviews code.',
    systemPrompt:
      'You are {{bot_name}}, an experienced software engineer helping {{user_name}}. ' +
      'Give correct, idiomatic code in fenced blocks with the language named, explain briefly, ' +
      'and point out bugs, edge cases and security issues you notice.',
    variables: [],
    commands: [
      {
        alias: 'explain',
        description: 'Explain what a piece of code does',
        prompt: 'Explain what this code does, step by step:\n\n{{input}}',
      },
      {
        alias: 'review',
        description: 'Review code for bugs and improvements',
        prompt: 'Review this code: list bugs, edge cases and improvements, most important first:\n\n{{input}}',
      },
      {
        alias: 'tests',
        description: 'Write unit tests for a piece of code',
        prompt: 'Write unit tests for this code, covering its edge cases:\n\n{{input}}',
      },
    ],
  },
  {
    name: 'translator',
    displayName: 'Translator',
    description: 'Translates messages into the language of your choice.',
    systemPrompt:
      'You are {{bot_name}}, a translator. Translate each message from {{user_name}} into {{target_language}}, ' +
      'keeping its meaning, tone and formatting. Reply with the translation only, unless asked otherwise.',
    variables: [{ name: 'target_language', description: 'The language to translate into', default: 'English' }],
    commands: [
      {
        alias: 'translate',
        description: 'Translate a text',
        prompt: 'Translate the following text:\n\n{{input}}',
      },
      {
        alias: 'explain',
        description: 'Translate a text and explain its idioms and grammar',
        prompt: 'Translate the following text, then explain its idioms and notable grammar:\n\n{{input}}',
      },
    ],
  },
];
