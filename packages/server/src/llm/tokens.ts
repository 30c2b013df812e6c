import { createRequire } from 'node:module';
import type { TokenCounter } from '../core/context-window.js';

const require = createRequire(import.meta.url);
let counter: TokenCounter | undefined;

/**
 * The o200k_base encoding (current OpenAI models; close enough for budgeting others). Its rank
 * table is several megabytes, so it is loaded on first use: most requests fit their context
 * without counting (see `fitContext`) and report usage from the provider.
 */
export function tokenCounter(): TokenCounter {
  if (!counter) {
    const { Tiktoken } = require('js-tiktoken/lite') as typeof import('js-tiktoken/lite');
    const ranks = require('js-tiktoken/ranks/o200k_base') as ConstructorParameters<typeof Tiktoken>[0];
    const encoding = new Tiktoken(ranks);
    counter = { count: (text) => (text ? encoding.encode(text).length : 0) };
  }
  return counter;
}
