import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatDelta } from '../src/core/chat-model.js';
import { UpstreamError } from '../src/core/chat-model.js';
import { openAiWireProvider } from '../src/llm/providers/openai-wire.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** An upstream that sends the given byte pieces with a pause between them, as a real network would. */
async function upstream(pieces: (string | Buffer)[]): Promise<string> {
  server = createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const piece of pieces) {
      res.write(piece);
      await new Promise((r) => setTimeout(r, 5));
    }
    res.end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

async function deltas(baseUrl: string): Promise<ChatDelta[]> {
  const provider = openAiWireProvider({ kind: 'openai-compatible', baseUrl, apiKey: '' });
  const out: ChatDelta[] = [];
  try {
    for await (const delta of provider.chat(
      { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
      new AbortController().signal,
    )) {
      out.push(delta);
    }
    return out;
  } finally {
    await provider.close?.();
  }
}

const frame = (content: string) =>
  `data: ${JSON.stringify({ choices: [{ delta: { content }, finish_reason: null }] })}\n\n`;
const end = `data: ${JSON.stringify({ choices: [{ delta: {}, finish_reason: 'stop' }] })}\n\ndata: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } })}\n\ndata: [DONE]\n\n`;

describe('the OpenAI-wire event stream parser', () => {
  it('joins frames and characters split across reads, with CRLF line ends', async () => {
    const text = frame('héllo 😀') + frame(' wörld').replace(/\n/g, '\r\n') + end;
    const bytes = Buffer.from(text);
    const emoji = bytes.indexOf(Buffer.from('😀'));
    // Cuts inside a frame, inside a multi-byte character, and between CR and LF.
    const cuts = [7, emoji + 2, bytes.indexOf('\r') + 1, bytes.length - 5];
    const pieces = [0, ...cuts].map((from, i) => bytes.subarray(from, [...cuts, bytes.length][i]));
    const result = await deltas(await upstream(pieces));
    expect(result).toEqual([
      { type: 'text', text: 'héllo 😀' },
      { type: 'text', text: ' wörld' },
      { type: 'finish', reason: 'stop', usage: { promptTokens: 3, completionTokens: 2 } },
    ]);
  });

  it('takes a finished stream without [DONE], and refuses one cut before its finish', async () => {
    const finished = frame('a') + `data: ${JSON.stringify({ choices: [{ delta: {}, finish_reason: 'length' }] })}\n\n`;
    expect((await deltas(await upstream([finished]))).at(-1)).toMatchObject({ type: 'finish', reason: 'length' });
    server!.close();
    const cut = deltas(await upstream([frame('a')]));
    await expect(cut).rejects.toBeInstanceOf(UpstreamError);
    await expect(cut).rejects.toMatchObject({ retryable: true });
  });

  it('turns an error event into a retryable upstream error', async () => {
    const failing = deltas(
      await upstream([frame('a'), `data: ${JSON.stringify({ error: { message: 'overloaded' } })}\n\n`]),
    );
    await expect(failing).rejects.toMatchObject({ message: 'overloaded', retryable: true });
  });
});
