import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, StagedBlob } from '../../core/files/model.js';

/** Where bytes wait until their upload is accepted whole; on the same filesystem, so that commits are renames. */
const STAGING_DIR = 'tmp';

/**
 * File bytes in a local directory. Writes are atomic and durable: bytes go to a temporary file,
 * are flushed to disk, and only then renamed to their final path (whose directory is flushed too).
 */
export class LocalBlobStore implements BlobStore {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async stage(bytes: Readable): Promise<StagedBlob> {
    await mkdir(join(this.root, STAGING_DIR), { recursive: true });
    const temporary = join(this.root, STAGING_DIR, `${randomUUID()}.part`);
    try {
      await pipeline(bytes, createWriteStream(temporary, { flags: 'wx' }));
      await flush(temporary);
    } catch (err) {
      await rm(temporary, { force: true });
      throw err;
    }
    return {
      commit: async (path) => {
        const target = this.locate(path);
        await mkdir(dirname(target), { recursive: true });
        await rename(temporary, target);
        await flush(dirname(target));
      },
      discard: () => rm(temporary, { force: true }),
    };
  }

  async read(path: string): Promise<Readable> {
    // Opened first, so that missing bytes are an error here rather than in the middle of an answer.
    const handle = await open(this.locate(path), 'r');
    return handle.createReadStream();
  }

  async readAll(path: string, maxBytes = Infinity): Promise<Buffer> {
    const handle = await open(this.locate(path), 'r');
    try {
      if (maxBytes === Infinity) return await handle.readFile();
      const { size } = await handle.stat();
      const buffer = Buffer.alloc(Math.min(size, maxBytes));
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  async delete(path: string): Promise<void> {
    await rm(this.locate(path), { force: true });
  }

  /** Paths come from the core, never from users; still, none may lead outside the store. */
  private locate(path: string): string {
    const target = resolve(this.root, path);
    if (!target.startsWith(this.root + sep)) throw new Error(`Blob path outside the store: ${path}`);
    return target;
  }
}

/** fsync: the bytes of a file, or the entries of a directory, survive a crash from now on. */
async function flush(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
