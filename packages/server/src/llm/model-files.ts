import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * GGUF model files in `<dataDir>/models`, and their download from Hugging Face. No CLI here: the
 * server may list and pull models too.
 */

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
const MAX_REDIRECTS = 10;
const SHA256 = /^[0-9a-f]{64}$/;

/** A pull that cannot go on; its message is the one line the operator sees. */
export class ModelPullError extends Error {
  override name = 'ModelPullError';
}

export const modelsDir = (dataDir: string): string => path.join(dataDir, 'models');

/** The model id a file is served as: its name without `.gguf`. */
export const modelIdOf = (fileName: string): string => path.basename(fileName, '.gguf');

export interface ModelFile {
  name: string;
  id: string;
  path: string;
  size: number;
}

/** The `.gguf` files in `<dataDir>/models` (symlinks included; `*.part` downloads are not `.gguf`). */
export async function listModelFiles(dataDir: string): Promise<ModelFile[]> {
  const dir = modelsDir(dataDir);
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const files: ModelFile[] = [];
  for (const name of names.filter((n) => n.endsWith('.gguf')).sort()) {
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined); // a dangling symlink is no model
    if (info?.isFile()) files.push({ name, id: modelIdOf(name), path: file, size: info.size });
  }
  return files;
}

/** `owner/repo/path/in/repo.gguf` → `{ repo: 'owner/repo', file: 'path/in/repo.gguf' }`. */
export function parseModelRef(ref: string): { repo: string; file: string } {
  const segments = ref.split('/');
  if (segments.length < 3 || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new ModelPullError(
      `'${ref}' is not <owner>/<repo>/<file in the repo>, e.g. ggml-org/models/tinyllamas/stories260K.gguf`,
    );
  }
  return { repo: segments.slice(0, 2).join('/'), file: segments.slice(2).join('/') };
}

export interface PullOptions {
  /** `owner/name` on Hugging Face. */
  repo: string;
  /** The file's path inside the repo; it is saved under its base name. */
  file: string;
  dataDir: string;
  /** Default https://huggingface.co; a mirror or a test server otherwise. */
  endpoint?: string;
  token?: string;
  /** Bytes in the file so far (a resumed download starts above 0), and the whole size when known. */
  onProgress?: (received: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

export interface PullResult {
  path: string;
  id: string;
  size: number;
  /** The file was there already and matches the remote one; nothing was downloaded. */
  alreadyPresent: boolean;
  /** The SHA-256 the file was checked against, when the server published one. */
  sha256?: string;
}

interface Context extends PullOptions {
  url: string;
  endpoint: string;
}

/** What the server says of the file, gathered over the redirects, and the final response. */
interface Remote {
  response: Response;
  sha256?: string;
  total?: number;
}

/**
 * Downloads a GGUF file from a Hugging Face repo into `<dataDir>/models/<base name>`: into a `.part`
 * first, resumed from where an interrupted pull stopped, checked against the SHA-256 and size the hub
 * publishes and for the GGUF magic, then renamed, so the server never sees a partial model.
 */
export async function pullModel(options: PullOptions): Promise<PullResult> {
  const name = path.basename(options.file);
  if (!name.endsWith('.gguf')) throw new ModelPullError(`${options.file} is not a .gguf file`);
  const endpoint = (options.endpoint || DEFAULT_HF_ENDPOINT).replace(/\/+$/, '');
  const segments = [...options.repo.split('/'), 'resolve', 'main', ...options.file.split('/')];
  const ctx: Context = { ...options, endpoint, url: `${endpoint}/${segments.map(encodeURIComponent).join('/')}` };
  const dir = modelsDir(options.dataDir);
  const final = path.join(dir, name);
  const part = `${final}.part`;
  await mkdir(dir, { recursive: true });

  const present = await sizeOf(final);
  if (present !== undefined) {
    const remote = await request(ctx, 'HEAD');
    if (!remote.response.ok) throw httpError(ctx, remote.response);
    // Replaced by a fresh download below when it differs: corrupt, or updated upstream.
    if ((remote.total ?? present) === present && (await matches(final, remote.sha256)) && (await isGguf(final))) {
      return { path: final, id: modelIdOf(name), size: present, alreadyPresent: true, sha256: remote.sha256 };
    }
  }

  const { size, sha256 } = await download(ctx, part);
  await rename(part, final);
  return { path: final, id: modelIdOf(name), size, alreadyPresent: false, sha256 };
}

async function download(ctx: Context, part: string): Promise<{ size: number; sha256?: string }> {
  let offset = (await sizeOf(part)) ?? 0;
  let remote = await request(ctx, 'GET', offset);
  if (remote.response.status === 416 && offset > 0) {
    // The range starts at the end: the .part may be whole already (the last run stopped before the rename).
    await remote.response.body?.cancel();
    if (remote.total === offset) {
      return verify(ctx, part, offset, remote, remote.sha256 ? await hashFile(part) : undefined);
    }
    await rm(part);
    offset = 0;
    remote = await request(ctx, 'GET');
  }
  const { response } = remote;
  if (response.status === 206) {
    const start = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1];
    if (Number(start) !== offset) {
      await response.body?.cancel();
      await rm(part);
      throw new ModelPullError(
        `${ctx.endpoint} resumed at the wrong byte; the partial download was deleted, pull again`,
      );
    }
  } else if (response.status === 200) {
    offset = 0; // the server ignored the range: start over
  } else {
    await response.body?.cancel();
    throw httpError(ctx, response);
  }

  // Hashed on the way in (the kept bytes first), so a multi-GB file is not read a second time.
  const hash = remote.sha256 ? createHash('sha256') : undefined;
  if (hash && offset) await hashInto(hash, part);
  const file = await open(part, offset ? 'a' : 'w');
  let received = offset;
  try {
    ctx.onProgress?.(received, remote.total);
    for await (const chunk of response.body ?? []) {
      await file.write(chunk);
      hash?.update(chunk);
      received += chunk.length;
      ctx.onProgress?.(received, remote.total);
    }
    await file.sync(); // on disk before the rename makes it the model
  } catch (error) {
    if (ctx.signal?.aborted) throw error;
    throw new ModelPullError(
      `download interrupted at ${mb(received)} of ${mb(remote.total)} MB (${reasonOf(error)}); ` +
        'pull again to resume',
      { cause: error },
    );
  } finally {
    await file.close();
  }
  if (remote.total !== undefined && received < remote.total) {
    throw new ModelPullError(
      `download incomplete: ${mb(received)} of ${mb(remote.total)} MB (the connection closed early); pull again to resume`,
    );
  }
  return verify(ctx, part, received, remote, hash?.digest('hex'));
}

/** The complete `.part` against what the hub published; a bad one is deleted, since resuming it cannot help. */
async function verify(
  ctx: Context,
  part: string,
  size: number,
  remote: Remote,
  sha256: string | undefined,
): Promise<{ size: number; sha256?: string }> {
  let problem: string | undefined;
  if (remote.total !== undefined && size !== remote.total) problem = `expected ${remote.total} bytes, got ${size}`;
  else if (remote.sha256 && sha256 !== remote.sha256)
    problem = `SHA-256 mismatch: expected ${remote.sha256}, got ${sha256}`;
  else if (!(await isGguf(part))) problem = 'not a GGUF file (it does not start with "GGUF")';
  if (problem) {
    await rm(part, { force: true });
    throw new ModelPullError(`${ctx.repo}/${ctx.file}: ${problem}; the download was deleted`);
  }
  return { size, sha256: remote.sha256 };
}

/**
 * Follows redirects itself: the hub publishes the SHA-256 and size on its redirect (`x-linked-etag`,
 * `x-linked-size`), which fetch would drop, and the token must not go to the CDN.
 */
async function request(ctx: Context, method: 'GET' | 'HEAD', offset = 0): Promise<Remote> {
  let url = ctx.url;
  let sha256: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' }; // bytes as stored, sizes as published
    if (offset) headers.range = `bytes=${offset}-`;
    if (ctx.token && new URL(url).origin === new URL(ctx.url).origin) headers.authorization = `Bearer ${ctx.token}`;
    let response: Response;
    try {
      response = await fetch(url, { method, headers, redirect: 'manual', signal: ctx.signal });
    } catch (error) {
      if (ctx.signal?.aborted) throw error;
      throw new ModelPullError(`cannot reach ${new URL(url).origin}: ${reasonOf(error)}`, { cause: error });
    }
    sha256 ??= shaOf(response.headers.get('x-linked-etag')) ?? shaOf(response.headers.get('etag'));
    linkedSize ??= sizeOfHeader(response.headers.get('x-linked-size'));
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url).href;
      continue;
    }
    const range = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1];
    const total =
      linkedSize ??
      sizeOfHeader(range) ??
      (response.status === 200 ? sizeOfHeader(response.headers.get('content-length')) : undefined);
    return { response, sha256, total };
  }
  throw new ModelPullError(`${ctx.endpoint}: more than ${MAX_REDIRECTS} redirects for ${ctx.repo}/${ctx.file}`);
}

function httpError(ctx: Context, response: Response): ModelPullError {
  const what = `${ctx.repo}/${ctx.file}`;
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  if (response.status === 404) {
    return new ModelPullError(`${what} not found at ${ctx.endpoint} (${status}): check the repo and the file path`);
  }
  if (response.status === 401 || response.status === 403) {
    // The hub answers 401 for repos that do not exist too, so as not to reveal private ones.
    return new ModelPullError(
      `${ctx.endpoint} refused ${what} (${status}): the repo does not exist, or is private or gated ` +
        '(set HF_TOKEN to a token that may read it)',
    );
  }
  return new ModelPullError(`${ctx.endpoint} answered ${status} for ${what}`);
}

/** An ETag that is a SHA-256 (the hub's for LFS files); a git blob's SHA-1 or a CDN's own tag is not. */
function shaOf(etag: string | null): string | undefined {
  const value = etag?.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
  return value && SHA256.test(value) ? value : undefined;
}

function sizeOfHeader(value: string | null | undefined): number | undefined {
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

async function sizeOf(file: string): Promise<number | undefined> {
  return (await stat(file).catch(() => undefined))?.size;
}

async function hashInto(hash: Hash, file: string): Promise<Hash> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash;
}

const hashFile = async (file: string): Promise<string> => (await hashInto(createHash('sha256'), file)).digest('hex');

async function matches(file: string, sha256: string | undefined): Promise<boolean> {
  return !sha256 || (await hashFile(file)) === sha256;
}

async function isGguf(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.toString('latin1') === 'GGUF';
  } finally {
    await handle.close();
  }
}

/** fetch wraps the socket's error: `fetch failed` / `terminated`, with the useful part in `cause`. */
function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { message?: string; code?: string } }).cause;
  return cause?.message || cause?.code || (error as Error).message || String(error);
}

const mb = (bytes: number | undefined): string => (bytes === undefined ? '?' : (bytes / 1e6).toFixed(1));
