import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatDelta, RelayBatch, RelayOptions } from '../src/core/chat-model.js';
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

/** The batches of a relayed answer, and the error that ended it, if one did. */
async function relayed(
  baseUrl: string,
  options: RelayOptions = { model: 'm', includeUsage: true },
): Promise<{ batches: RelayBatch[]; error?: unknown }> {
  const provider = openAiWireProvider({ kind: 'openai-compatible', baseUrl, apiKey: '' });
  const batches: RelayBatch[] = [];
  try {
    const request = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
    for await (const batch of provider.relay!(request, new AbortController().signal, options)) batches.push(batch);
    return { batches };
  } catch (error) {
    return { batches, error };
  } finally {
    await provider.close?.();
  }
}

const event = (chunk: unknown) => `data: ${JSON.stringify(chunk)}\n\n`;
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

describe('the OpenAI-wire relay', () => {
  const chunk = (delta: unknown, finish: string | null = null, model = 'm') => ({
    id: 'chatcmpl-up',
    object: 'chat.completion.chunk',
    created: 1,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
    usage: null,
  });
  const usage = { id: 'chatcmpl-up', model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } };

  it('passes the events on as the upstream wrote them, cut only between events, however the reads fall', async () => {
    const text =
      event(chunk({ role: 'assistant', content: '' })) +
      event(chunk({ content: 'héllo 😀' })) +
      event(chunk({ content: ' "wörld"\n' })).replace(/\n/g, '\r\n') +
      event(chunk({}, 'stop')) +
      event(usage) +
      'data: [DONE]\n\n';
    const bytes = Buffer.from(text);
    const emoji = bytes.indexOf(Buffer.from('😀'));
    const cuts = [7, emoji + 2, bytes.indexOf('\r') + 1, bytes.length - 5];
    const pieces = [0, ...cuts].map((from, i) => bytes.subarray(from, [...cuts, bytes.length][i]));
    const { batches, error } = await relayed(await upstream(pieces));
    expect(error).toBeUndefined();
    expect(batches.map((b) => b.text).join('')).toBe(text);
    for (const batch of batches) expect(batch.text).toMatch(/\n\r?\n$/);
    expect(batches.map((b) => b.completion()).join('')).toBe('héllo 😀 "wörld"\n');
    expect(batches.find((b) => b.usage)?.usage).toEqual({ promptTokens: 3, completionTokens: 2 });
    expect(batches.at(-1)!.done).toBe(true);
  });

  it('holds events back until the first token, and adds a role chunk when the upstream sends none', async () => {
    const role = event(chunk({ role: 'assistant', content: '' }));
    const { batches } = await relayed(await upstream([role, event(chunk({ content: 'a' })), event(chunk({}, 'stop'))]));
    expect(batches[0]!.text).toBe(role + event(chunk({ content: 'a' })));

    server!.close();
    const bare = await relayed(await upstream([event(chunk({ content: 'a' })) + 'data: [DONE]\n\n']));
    const first = JSON.parse(bare.batches[0]!.text.split('\n\n')[0]!.slice('data: '.length));
    expect(first).toMatchObject({ id: 'chatcmpl-up', model: 'm', choices: [{ delta: { role: 'assistant' } }] });
    expect(first.usage).toBeUndefined();
  });

  it('names the model as the caller did, and drops the usage chunk the caller did not ask for (but reads it)', async () => {
    const first = { role: 'assistant', content: 'a' };
    const text = [chunk(first, null, 'm-2024'), chunk({}, 'stop', 'm-2024'), { ...usage, model: 'm-2024' }]
      .map(event)
      .join('');
    const { batches } = await relayed(await upstream([text + 'data: [DONE]\n\n']), {
      model: 'alias',
      includeUsage: false,
    });
    const out = batches.map((b) => b.text).join('');
    expect(out).toBe(event(chunk(first, null, 'alias')) + event(chunk({}, 'stop', 'alias')) + 'data: [DONE]\n\n');
    expect(batches.find((b) => b.usage)?.usage).toEqual({ promptTokens: 3, completionTokens: 2 });
  });

  it('ends a finished stream without [DONE] with one, and refuses one cut before its finish', async () => {
    const finished = await relayed(await upstream([event(chunk({ content: 'a' })) + event(chunk({}, 'length'))]));
    expect(finished.batches.at(-1)).toMatchObject({ text: 'data: [DONE]\n\n', done: true });
    server!.close();
    const cut = await relayed(await upstream([event(chunk({ content: 'a' }))]));
    expect(cut.batches).toHaveLength(1);
    expect(cut.error).toBeInstanceOf(UpstreamError);
    expect(cut.error).toMatchObject({ retryable: true });
  });

  it('turns an error event into a retryable upstream error, before any batch when no token came yet', async () => {
    const failure = event({ error: { message: 'overloaded' } });
    const early = await relayed(await upstream([event(chunk({ role: 'assistant', content: '' })), failure]));
    expect(early.batches).toEqual([]);
    expect(early.error).toMatchObject({ message: 'overloaded', retryable: true });
    server!.close();
    const first = event(chunk({ role: 'assistant', content: 'a' }));
    const late = await relayed(await upstream([first, failure]));
    expect(late.batches.map((b) => b.text)).toEqual([first]);
    expect(late.error).toMatchObject({ message: 'overloaded', retryable: true });
  });

  it('reads a response on to its end after [DONE], a failure meanwhile being no failure of the answer', async () => {
    // An upstream that never ends its response after [DONE].
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(event(chunk({ role: 'assistant', content: 'a' })) + 'data: [DONE]\n\n');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const provider = openAiWireProvider({ kind: 'openai-compatible', baseUrl, apiKey: '' });
    const request = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
    try {
      for (const read of [
        (signal: AbortSignal) => provider.relay!(request, signal, { model: 'm', includeUsage: false }),
        (signal: AbortSignal) => provider.chatBatches!(request, signal),
      ]) {
        const controller = new AbortController();
        const answer = read(controller.signal)[Symbol.asyncIterator]();
        expect((await answer.next()).done).toBe(false);
        const rest = answer.next();
        // As routing's idle watch stops an upstream gone silent.
        setTimeout(() => controller.abort(new UpstreamError('silent', true)), 50);
        await expect(rest).resolves.toEqual({ done: true, value: undefined });
      }
    } finally {
      server.closeAllConnections();
      await provider.close?.();
    }
  });
});
