import type { Readable } from 'node:stream';

/** The folder a file is stored under, by what it holds (`static/<kind>/<ulid><ext>`). */
export type FileKind = 'images' | 'videos' | 'audios' | 'files';
export const FILE_KINDS = ['images', 'videos', 'audios', 'files'] as const satisfies readonly FileKind[];

export interface StoredFile {
  id: string;
  ownerId: string;
  /** The name the uploader gave, for display only: it never reaches the filesystem. */
  name: string;
  size: number;
  /** Detected from the bytes, not taken from the client. */
  mimeType: string;
  sha256: string;
  /** `static/<kind>/<id><ext>`: where the bytes are served and stored. */
  path: string;
  createdAt: number;
}

export interface FileRepository {
  insertMany(files: StoredFile[]): Promise<void>;
  findById(id: string): Promise<StoredFile | undefined>;
  findByPath(path: string): Promise<StoredFile | undefined>;
  findManyByIds(ids: readonly string[]): Promise<StoredFile[]>;
  /** Whether a conversation `userId` may read references the file through one of its messages. */
  isReferencedForReader(fileId: string, userId: string): Promise<boolean>;
  /** Of these files, those no message references any more. */
  unreferenced(ids: readonly string[]): Promise<StoredFile[]>;
  deleteMany(ids: readonly string[]): Promise<void>;
}

/**
 * Bytes written but not yet visible: an upload is checked whole (type, size, the other files of
 * the same request) before any of it appears under a final path.
 */
export interface StagedBlob {
  /** Moves the bytes to `path`; resolves once they are durable there. */
  commit(path: string): Promise<void>;
  /** Removes the bytes; harmless once committed or discarded. */
  discard(): Promise<void>;
}

/** Where file bytes live: a local directory by default. Paths are generated, never user input. */
export interface BlobStore {
  /** Writes the stream to a temporary place; if the stream fails, nothing is left behind. */
  stage(bytes: Readable): Promise<StagedBlob>;
  /** The bytes under `path`; rejects when there are none. */
  read(path: string): Promise<Readable>;
  /** At most the first `maxBytes` bytes under `path` (all of them by default). */
  readAll(path: string, maxBytes?: number): Promise<Buffer>;
  /** Removes the bytes under `path`, if any. */
  delete(path: string): Promise<void>;
}
