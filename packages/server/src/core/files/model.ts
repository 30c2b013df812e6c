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

/** Where file bytes live: a local directory by default. Paths are generated, never user input. */
export interface BlobStore {
  /** Writes the stream to `path`; resolves once the bytes are durable. */
  write(path: string, bytes: Readable): Promise<void>;
  read(path: string): Readable;
  readAll(path: string): Promise<Buffer>;
  delete(path: string): Promise<void>;
}
