import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_REPLY } from './helpers/fake-upstream.js';
import { startChatGateway, type Gateway } from './helpers/gateway.js';
import { startServer } from './helpers/server.js';

/** A small page that makes the calls Botyard's web client makes, in its order, from the browser. */
const WEB_ROOT = fileURLToPath(new URL('./fixtures/botyard-web', import.meta.url));
const MOUNT = '/v1/client-api';
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

let gateway: Gateway;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** The API calls the page made, as `METHOD path?query`, in order. */
let calls: string[];

beforeAll(async () => {
  gateway = await startChatGateway({ 'surfaces.botyard.webRoot': WEB_ROOT });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  context = await browser.newContext();
  page = await context.newPage();
});
afterAll(async () => {
  await browser?.close();
  await gateway?.close();
});
beforeEach(() => {
  calls = [];
  page.removeAllListeners('request');
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith(MOUNT))
      calls.push(`${request.method()} ${url.pathname.slice(MOUNT.length)}${url.search}`);
  });
});

const url = (path: string) => gateway.server.url + path;

describe('Botyard web client on the same origin', () => {
  let botId: string;
  let chatId: string;

  it('opens the gallery before anyone signs in', async () => {
    await page.goto(url('/'));
    await page.locator('.bot').first().waitFor();
    expect(await page.locator('#service-name').textContent()).toBe('Parley');
    const names = await page.locator('.bot').allTextContents();
    expect(names).toEqual(expect.arrayContaining(['Assistant', 'Coder', 'Translator']));
    expect(calls).toEqual(['GET /service-info', 'GET /bots']);
    expect(await context.cookies()).toEqual([]);
    botId = (await page.locator('.bot', { hasText: 'Assistant' }).getAttribute('data-id'))!;
  });

  it('signs in with a nickname and opens a chat with the bot', async () => {
    await page.locator('.bot', { hasText: 'Assistant' }).click();
    await page.locator('#nickname').fill('Grace Hopper');
    await page.locator('#sign-in button').click();
    await page.locator('#commands li').first().waitFor();
    chatId = (await page.locator('#view').getAttribute('data-chat'))!;
    expect(page.url()).toBe(url(`/bot/${botId}`));
    expect(calls).toEqual([
      'GET /user',
      'POST /user',
      `GET /chats?bot_id=${botId}`,
      'POST /chat',
      `GET /chat/${chatId}/messages?page=1&limit=20`,
      `GET /bot/${botId}/commands`,
    ]);
    expect(await page.locator('#commands').textContent()).toContain('/summarize');
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'token', path: '/', httpOnly: true, sameSite: 'Lax' });
  });

  it('uploads files, sends, polls for the reply and shows the attachments', async () => {
    await page.locator('#files').setInputFiles([
      { name: 'dot.png', mimeType: 'image/png', buffer: PNG },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('some notes') },
    ]);
    await page.locator('#body').fill('Look at <b>this</b>');
    await page.locator('#send').click();
    await page.locator('.message.bot').waitFor();
    await page.locator('#status', { hasText: 'idle' }).waitFor();

    expect(calls.slice(0, 2)).toEqual(['POST /files', 'POST /chat/message']);
    const polls = calls.slice(2);
    expect(polls.length).toBeGreaterThanOrEqual(1);
    for (const poll of polls) {
      expect(poll).toMatch(new RegExp(`^GET /chat/${chatId}/messages\\?sender_id=${botId}&page=1&limit=1&since=\\d+$`));
    }

    const mine = page.locator('.message.user');
    expect(await mine.locator('.body').textContent()).toBe('Look at <b>this</b>');
    expect(await mine.locator('.body b').count()).toBe(0);
    expect(await page.locator('.message.bot .body').textContent()).toBe(DEFAULT_REPLY);

    // The image loads with the cookie; the other file is a link to the same origin.
    const image = mine.locator('img.attachment');
    expect(await image.getAttribute('src')).toMatch(/^\/static\/images\/[0-9A-Z]{26}\.png$/);
    await expect
      .poll(() =>
        image.evaluate((img) => {
          const loaded = img as unknown as { complete: boolean; naturalWidth: number };
          return loaded.complete && loaded.naturalWidth;
        }),
      )
      .toBe(1);
    const link = mine.locator('a.attachment');
    expect(await link.textContent()).toBe('notes.txt (10 B)');
    const href = (await link.getAttribute('href'))!;
    expect(href).toMatch(/^\/static\/files\/[0-9A-Z]{26}\.txt$/);
    const fetched = await page.evaluate(async (path) => (await fetch(path)).text(), href);
    expect(fetched).toBe('some notes');
    expect(await page.locator('#toast').textContent()).toBe('');
  });

  it('shows what a model writes as text, never as markup that runs', async () => {
    gateway.upstreams[0]!.configure({ reply: '<img src=x onerror="window.pwned=true">\n<b>bold</b>' });
    try {
      await page.locator('#body').fill('Say something');
      await page.locator('#send').click();
      await page.locator('.message.bot').nth(1).waitFor();
      const reply = page.locator('.message.bot .body').nth(1);
      expect(await reply.textContent()).toBe('<img src=x onerror="window.pwned=true"><b>bold</b>');
      expect(await reply.locator('img, b').count()).toBe(0);
      expect(await page.evaluate(() => (globalThis as { pwned?: boolean }).pwned)).toBeUndefined();
    } finally {
      gateway.upstreams[0]!.configure({ reply: DEFAULT_REPLY });
    }
  });

  it('reloads a chat page from its own URL, still signed in', async () => {
    await page.reload();
    await page.locator('#commands li').first().waitFor();
    expect(calls).toEqual([
      'GET /user',
      'GET /bots',
      `GET /chats?bot_id=${botId}`,
      `GET /chat/${chatId}/messages?page=1&limit=20`,
      `GET /bot/${botId}/commands`,
    ]);
    expect(await page.locator('#messages').getAttribute('data-total')).toBe('4');
    expect(await page.locator('.message').count()).toBe(4);
    expect(await page.locator('.message.user img.attachment').count()).toBe(1);
  });
});

describe('serving the web client', () => {
  const get = (path: string, accept = 'text/html,application/xhtml+xml') => fetch(url(path), { headers: { accept } });

  it('serves its files, and index.html for other pages, with a policy that lets avatars show', async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('/assets/app.js');
    expect(index.headers.get('content-security-policy')).toMatch(/img-src 'self' data: blob: https:/);
    expect((await get('/assets/app.js', '*/*')).headers.get('content-type')).toMatch(/javascript/);

    const deep = await get('/bot/anything');
    expect(deep.status).toBe(200);
    expect(deep.headers.get('cache-control')).toBe('no-cache');
    expect(await deep.text()).toBe(await (await get('/index.html')).text());
    expect((await get('/some/other/page')).status).toBe(200);
  });

  it('keeps not-found answers for API paths and for what is not a page', async () => {
    const botyard = await get(`${MOUNT}/nope`);
    expect(botyard.status).toBe(404);
    expect(await botyard.json()).toEqual({ message: expect.any(String) });
    const native = await get('/api/v1/nope');
    expect(native.status).toBe(404);
    expect(await native.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const openai = await get('/v1/nope');
    expect(openai.status).toBe(404);
    expect(await openai.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await get('/assets/missing.js', '*/*')).status).toBe(404);
    expect((await fetch(url('/bot/anything'), { method: 'POST', headers: { accept: 'text/html' } })).status).toBe(404);
    expect((await get('/static/images/nope.png')).status).toBe(401);
  });

  it('refuses to start with a webRoot that holds no index.html', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'parley-webroot-'));
    try {
      await expect(startServer({ 'surfaces.botyard.webRoot': empty })).rejects.toThrow(/index\.html/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
