import type { CallContext, CompletionService } from '../completions.js';

const TITLE_PROMPT =
  'Write a title of at most six words for the conversation below. Answer with the title only: ' +
  'no quotes, no final punctuation.';
/** Enough of the first exchange to name it. */
const EXCERPT_CHARS = 2000;
const MAX_TITLE_CHARS = 80;

/** A short title for a conversation from its first exchange, asked of its own model. */
export async function generateTitle(
  completions: CompletionService,
  context: CallContext,
  model: string,
  exchange: { question: string; answer: string },
): Promise<string> {
  const excerpt = `User: ${exchange.question}\n\nAssistant: ${exchange.answer}`.slice(0, EXCERPT_CHARS);
  const completion = await completions.start(
    context,
    {
      model,
      messages: [
        { role: 'system', content: TITLE_PROMPT },
        { role: 'user', content: excerpt },
      ],
      maxTokens: 24,
      temperature: 0.2,
      stream: false,
    },
    AbortSignal.timeout(60_000),
  );
  let text = '';
  for await (const batch of completion) for (const delta of batch) if (delta.type === 'text') text += delta.text;
  return cleanTitle(text) || fallbackTitle(exchange.question);
}

/** The first words of the question, when the model gives nothing usable. */
export function fallbackTitle(question: string): string {
  return cleanTitle(question) || 'New conversation';
}

function cleanTitle(text: string): string {
  const line = text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^["'`*#\s]+|["'`*.\s]+$/g, '');
  return line.length > MAX_TITLE_CHARS ? `${line.slice(0, MAX_TITLE_CHARS - 1).trimEnd()}…` : line;
}
