import type { ChatMessage } from './chat-model.js';
import { ContextLengthExceeded } from './errors.js';

/** Counts tokens the way models do (js-tiktoken in `llm/`). */
export interface TokenCounter {
  count(text: string): number;
}

/** What each message costs beyond its text (role and separators), as OpenAI's counting guide has it. */
const PER_MESSAGE = 4;
const PER_REPLY = 3;

export function messageText(message: ChatMessage): string {
  if (message.role === 'assistant') {
    return (message.content ?? '') + (message.toolCalls ?? []).map((c) => c.name + c.arguments).join('');
  }
  if (typeof message.content === 'string') return message.content;
  return message.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

/**
 * The messages that fit the model's context with room for the reply: system messages and the
 * latest message always stay; the oldest other turns go first. Byte-level BPE never makes more
 * tokens than UTF-8 bytes, so a conversation whose bytes fit is passed through without counting.
 */
export function fitContext(
  messages: ChatMessage[],
  budget: { contextLength: number; replyTokens: number },
  counter: () => TokenCounter,
): ChatMessage[] {
  const room = budget.contextLength - budget.replyTokens - PER_REPLY;
  let bytes = 0;
  for (const message of messages) bytes += Buffer.byteLength(messageText(message)) + PER_MESSAGE;
  if (bytes <= room) return messages;

  const tokens = counter();
  const cost = messages.map((m) => tokens.count(messageText(m)) + PER_MESSAGE);
  const last = messages.length - 1;
  let total = cost.reduce((a, b) => a + b, 0);
  const pinned = (i: number) => i === last || messages[i]!.role === 'system';
  const pinnedCost = cost.reduce((sum, c, i) => (pinned(i) ? sum + c : sum), 0);
  if (pinnedCost > room) {
    throw new ContextLengthExceeded(
      `The messages need ${pinnedCost} tokens but the model's context leaves room for ${Math.max(room, 0)} ` +
        `(context ${budget.contextLength}, reply ${budget.replyTokens}); shorten the message or ask for a shorter reply`,
    );
  }
  const keep = messages.map(() => true);
  for (let i = 0; i < last && total > room; i++) {
    if (pinned(i)) continue;
    keep[i] = false;
    total -= cost[i]!;
    // A tool result without the call that asked for it confuses models: drop them together.
    while (i + 1 < last && messages[i + 1]!.role === 'tool') {
      i++;
      keep[i] = false;
      total -= cost[i]!;
    }
  }
  return messages.filter((_, i) => keep[i]);
}
