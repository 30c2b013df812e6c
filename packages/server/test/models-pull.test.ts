import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullModel } from '../src/llm/model-files.js';
import { runCli } from './helpers/processes.js';

const MODEL = readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/models/stories260K.gguf'),
);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

interface Served {
  bytes: Buffer;
  /** What the hub publishes as the file's SHA-256; default the true one. */
  sha?: string;
  /** The first download is cut off after this many bytes. */
  breakAfter?: number;
  /** The CDN answers every request with the whole file, as a server without range support does. */
  ignoreRange?: boolean;
}

const FILES: Record<string, Served> = {
  'ggml-org/models/tinyllamas/stories260K.gguf': { bytes: MODEL },
  'acme/flaky/stories260K.gguf': { bytes: MODEL, breakAfter: 300_000 },
  'acme/wrong-sha/stories260K.gguf': { bytes: MODEL, sha: 'a'.repeat(64) },
  'acme/no-ranges/stories260K.gguf': { bytes: MODEL, ignoreRange: true },
  'acme/not-gguf/model.gguf': { bytes: Buffer.from('<html>not a model</html>\n'.repeat(100)) },
};

interface Seen {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range?: string;
  authorization?: string;
  status: number;
}

/**
 * A fake Hugging Face: the hub answers `/<repo>/resolve/main/<file>` with a redirect to a CDN on
 * another origin, publishing the SHA-256 and size on the redirect as the real hub does for LFS files.
 */
let hub: Server;
let cdn: Server;
let endpoint: string;
let cdnUrl: string;
const seen: Seen[] = [];
const broken = new Set<string>();

function hubHandler(req: IncomingMessage, res: ServerResponse) {
  const match = /^\/(.+?\/.+?)\/resolve\/main\/(.+)$/.exec(req.url ?? '');
  const key = match ? `${match[1]}/${match[2]}` : '';
  const served = FILES[key];
  record('hub', req, served ? 302 : 404);
  if (!served) return res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
  const sha = served.sha ?? sha256(served.bytes);
  res
    .writeHead(302, {
      location: `${cdnUrl}/blobs/${encodeURIComponent(key)}?signature=x`,
      'x-linked-etag': `"${sha}"`,
      'x-linked-size': String(served.bytes.length),
      etag: `"${sha}"`,
    })
    .end();
}

function cdnHandler(req: IncomingMessage, res: ServerResponse) {
  const key = decodeURIComponent(/^\/blobs\/([^?]+)/.exec(req.url ?? '')?.[1] ?? '');
  const served = FILES[key]!;
  const size = served.bytes.length;
  const range = served.ignoreRange ? undefined : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  if (start >= size && range) {
    record('cdn', req, 416);
    return res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
  }
  record('cdn', req, range ? 206 : 200);
  res.writeHead(range ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': String(size - start),
    'accept-ranges': 'bytes',
    ...(range ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
    etag: '"cdn-etag-1"',
  });
  if (req.method === 'HEAD') return res.end();
  if (served.breakAfter && !broken.has(key)) {
    broken.add(key);
    // Flushed first, so the client holds part of the file when the connection dies.
    return res.write(served.bytes.subarray(start, served.breakAfter), () => res.destroy());
  }
  res.end(served.bytes.subarray(start));
}

function record(server: Seen['server'], req: IncomingMessage, status: number) {
  const { range, authorization } = req.headers;
  seen.push({ server, method: req.method!, path: req.url!, range, authorization, status });
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<[Server, string]> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
}

beforeAll(async () => {
  [hub, endpoint] = await listen(hubHandler);
  [cdn, cdnUrl] = await listen(cdnHandler);
});
afterAll(() => {
  hub.close();
  cdn.close();
});

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-models-'));
  dirs.push(dir);
  return dir;
}

const cli = (dir: string, ...args: string[]) =>
  runCli(['models', ...args], { PARLEY_DATA_DIR: dir, PARLEY_HF_ENDPOINT: endpoint }, dir);
const modelFiles = (dir: string) => (existsSync(path.join(dir, 'models')) ? readdirSync(path.join(dir, 'models')) : []);
const since = (from: number) => seen.slice(from);

describe('parley models pull', () => {
  const dir = dataDir();
  const file = path.join(dir, 'models', 'stories260K.gguf');

  it('downloads a file through the redirect, verifies it and names the model it is served as', async () => {
    const res = await cli(dir, 'pull', 'ggml-org/models/tinyllamas/stories260K.gguf');
    expect(res.stderr).toMatch(/100%\s+1\.2\/1\.2 MB/);
    expect(res.code).toBe(0);
    expect(readFileSync(file).equals(MODEL)).toBe(true);
    expect(res.stdout).toContain(`${file} (1.2 MB, SHA-256 verified)`);
    expect(res.stdout).toContain('registered: the server serves it as model `stories260K`');
    expect(modelFiles(dir)).toEqual(['stories260K.gguf']);
  });

  it('reports a file already there after checking it, without downloading it again', async () => {
    const from = seen.length;
    const res = await cli(dir, 'pull', 'ggml-org/models/tinyllamas/stories260K.gguf');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`already present: ${file}`);
    expect(since(from).every((r) => r.method === 'HEAD')).toBe(true);
  });

  it('lists the files with their sizes', async () => {
    writeFileSync(`${file}.part`, 'half a download'); // never listed
    const res = await cli(dir, 'list');
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toMatch(/^stories260K\.gguf\s+1\.2 MB$/);
    expect((await cli(dataDir(), 'list')).stdout).toMatch(/^no models in /);
  });

  it('resumes an interrupted download from where it stopped', async () => {
    const dir = dataDir();
    const first = await cli(dir, 'pull', 'acme/flaky/stories260K.gguf');
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/download interrupted at 0\.\d of 1\.2 MB .*pull again to resume/);
    expect(modelFiles(dir)).toEqual(['stories260K.gguf.part']);

    const from = seen.length;
    const second = await cli(dir, 'pull', 'acme/flaky/stories260K.gguf');
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/resuming at 0\.\d MB/);
    const resumed = since(from).find((r) => r.server === 'cdn')!;
    const offset = Number(/^bytes=(\d+)-$/.exec(resumed.range ?? '')?.[1]);
    expect(offset).toBeGreaterThan(0);
    expect(resumed.status).toBe(206);
    expect(readFileSync(path.join(dir, 'models', 'stories260K.gguf')).equals(MODEL)).toBe(true);
    expect(modelFiles(dir)).toEqual(['stories260K.gguf']);
  });

  it('refuses a file whose SHA-256 differs from the published one, and keeps nothing', async () => {
    const dir = dataDir();
    const res = await cli(dir, 'pull', 'acme/wrong-sha/stories260K.gguf');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`SHA-256 mismatch: expected ${'a'.repeat(64)}, got ${sha256(MODEL)}`);
    expect(res.stderr).toContain('the download was deleted');
    expect(modelFiles(dir)).toEqual([]);
  });

  it('says clearly when the file does not exist', async () => {
    const res = await cli(dataDir(), 'pull', 'ggml-org/models/nope/missing.gguf');
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n').at(-1)).toBe(
      `parley: ggml-org/models/nope/missing.gguf not found at ${endpoint} (HTTP 404 Not Found): check the repo and the file path`,
    );
    expect((await cli(dataDir(), 'pull', 'just-a-name.gguf')).stderr).toMatch(/is not <owner>\/<repo>\/<file/);
  });
});

describe('pullModel', () => {
  it('refuses a file that is not GGUF', async () => {
    const dir = dataDir();
    await expect(pullModel({ repo: 'acme/not-gguf', file: 'model.gguf', dataDir: dir, endpoint })).rejects.toThrow(
      'acme/not-gguf/model.gguf: not a GGUF file (it does not start with "GGUF"); the download was deleted',
    );
    expect(modelFiles(dir)).toEqual([]);
  });

  it('finishes a download whose .part is already whole (416 to the resume)', async () => {
    const dir = dataDir();
    mkdirSync(path.join(dir, 'models'));
    writeFileSync(path.join(dir, 'models', 'stories260K.gguf.part'), MODEL);
    const from = seen.length;
    const pulled = await pullModel({
      repo: 'ggml-org/models',
      file: 'tinyllamas/stories260K.gguf',
      dataDir: dir,
      endpoint,
    });
    expect(pulled).toMatchObject({ alreadyPresent: false, size: MODEL.length, sha256: sha256(MODEL) });
    expect(since(from).map((r) => r.status)).toEqual([302, 416]);
    expect(modelFiles(dir)).toEqual(['stories260K.gguf']);
  });

  it('starts over when the server ignores the range', async () => {
    const dir = dataDir();
    mkdirSync(path.join(dir, 'models'));
    writeFileSync(path.join(dir, 'models', 'stories260K.gguf.part'), 'stale bytes that must not stay');
    const progress: [number, number | undefined][] = [];
    const pulled = await pullModel({
      repo: 'acme/no-ranges',
      file: 'stories260K.gguf',
      dataDir: dir,
      endpoint,
      onProgress: (received, total) => progress.push([received, total]),
    });
    expect(readFileSync(pulled.path).equals(MODEL)).toBe(true);
    expect(progress[0]).toEqual([0, MODEL.length]);
    expect(progress.at(-1)).toEqual([MODEL.length, MODEL.length]);
  });

  it('sends the token to the hub only, not to the CDN it redirects to', async () => {
    const from = seen.length;
    await pullModel({
      repo: 'ggml-org/models',
      file: 'tinyllamas/stories260K.gguf',
      dataDir: dataDir(),
      endpoint,
      token: 'hf_x',
    });
    expect(since(from).map((r) => [r.server, r.authorization])).toEqual([
      ['hub', 'Bearer hf_x'],
      ['cdn', undefined],
    ]);
  });

  it('says which endpoint it cannot reach', async () => {
    const closed = await listen(() => {});
    closed[0].close();
    await expect(pullModel({ repo: 'a/b', file: 'c.gguf', dataDir: dataDir(), endpoint: closed[1] })).rejects.toThrow(
      new RegExp(`^cannot reach ${closed[1]}: .*ECONNREFUSED`),
    );
  });
});
