import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { expect, it } from 'vitest';
import { signUp } from './helpers/accounts.js';
import { isolatedStores } from './helpers/env.js';
import { startServer } from './helpers/server.js';
import { tinyModelPath } from './helpers/tiny-model.js';

it('serves the models pulled into <dataDir>/models under their file names', async () => {
  const stores = await isolatedStores();
  mkdirSync(join(stores.dataDir, 'models'));
  symlinkSync(await tinyModelPath(), join(stores.dataDir, 'models', 'stories260K.gguf'));
  const server = await startServer({}, stores);
  try {
    const { key } = await signUp(server.http);
    const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['stories260K']);
    const answer = await client.chat.completions.create({
      model: 'stories260K',
      temperature: 0,
      max_tokens: 12,
      messages: [{ role: 'user', content: 'Once upon a time' }],
    });
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(5);
    // A local model answers only for its own name.
    await expect(
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  } finally {
    await server.close();
  }
}, 60_000);
