import { pipeline, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { User } from '../accounts/model.js';
import type { ContentPart } from '../chat-model.js';
import type { Message } from '../conversations/model.js';
import { Invalid, NotFound } from '../errors.js';
import { newId } from '../ids.js';
import { contradicts, isText, kindOf } from './detect.js';
import { UploadInspector } from './inspect.js';
import type { BlobStore, FileRepository, StagedBlob, StoredFile } from './model.js';
import { checkFileName, isStoredPath, maxBytesOf, storedPath, type FileLimits } from './rules.js';

/** One file of an upload, as the surface received it. */
export interface Upload {
  /** The client's name for it: display only. */
  filename: string;
  /** The client's claim about its type: checked against the bytes. */
  declaredType: string;
  stream: Readable;
}

/** Image formats vision models accept. */
const VISION_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
/** Ids per statement when cleaning up: far below what either database binds in one query. */
const CLEANUP_BATCH = 500;

interface Staged {
  file: StoredFile;
  blob: StagedBlob;
}

export class FileService {
  constructor(
    private readonly repo: FileRepository,
    private readonly blobs: BlobStore,
    private readonly limits: FileLimits,
  ) {}

  /** Stores every file of the upload, or (when one is refused) none of them. */
  async upload(user: User, uploads: AsyncIterable<Upload>): Promise<StoredFile[]> {
    const staged: Staged[] = [];
    try {
      for await (const upload of uploads) {
        if (staged.length === this.limits.maxFilesPerUpload) {
          throw new Invalid(`At most ${this.limits.maxFilesPerUpload} files per upload`, 'file');
        }
        staged.push(await this.stage(user, upload));
      }
      if (!staged.length) throw new Invalid('No file: send each file as a part named "file"', 'file');
      await this.commit(staged);
    } catch (err) {
      await Promise.all(staged.map(({ blob }) => blob.discard()));
      throw err;
    }
    return staged.map(({ file }) => file);
  }

  /** A file the user owns, or that a conversation they may read references; NotFound otherwise. */
  async get(user: User, id: string): Promise<StoredFile> {
    return this.readable(user, await this.repo.findById(id));
  }

  /** The bytes under a `static/…` path, on the same terms as `get`. */
  async open(user: User, path: string): Promise<{ file: StoredFile; stream: Readable }> {
    const file = await this.readable(user, isStoredPath(path) ? await this.repo.findByPath(path) : undefined);
    return { file, stream: await this.blobs.read(file.path) };
  }

  /** The user's own files, in the order given, to attach to a message; refuses others' and unknown ids. */
  async attachable(user: User, ids: readonly string[]): Promise<StoredFile[]> {
    const wanted = [...new Set(ids)];
    if (wanted.length > this.limits.maxFilesPerUpload) {
      throw new Invalid(`A message carries at most ${this.limits.maxFilesPerUpload} files`, 'attachments');
    }
    if (!wanted.length) return [];
    const found = new Map((await this.repo.findManyByIds(wanted)).map((file) => [file.id, file]));
    return wanted.map((id) => {
      const file = found.get(id);
      if (!file || file.ownerId !== user.id) throw new NotFound(`File ${id}`);
      return file;
    });
  }

  /**
   * The files attached to these messages, by id (those deleted since are missing). The caller has
   * read the messages, which gives it the right to read what they reference.
   */
  async attachedTo(messages: readonly Pick<Message, 'attachments'>[]): Promise<Map<string, StoredFile>> {
    const ids = [...new Set(messages.flatMap((m) => m.attachments))];
    const files = ids.length ? await this.repo.findManyByIds(ids) : [];
    return new Map(files.map((file) => [file.id, file]));
  }

  /** How attached files reach a model: images as image parts (vision models only), text inline up to a limit. */
  async contentParts(files: readonly StoredFile[], options: { vision: boolean }): Promise<ContentPart[]> {
    return Promise.all(files.map((file) => this.contentPart(file, options.vision)));
  }

  /** Deletes those of these files no message references any more (rows and bytes). */
  async removeUnreferenced(ids: readonly string[]): Promise<void> {
    const unique = [...new Set(ids)];
    for (let start = 0; start < unique.length; start += CLEANUP_BATCH) {
      const gone = await this.repo.unreferenced(unique.slice(start, start + CLEANUP_BATCH));
      if (!gone.length) continue;
      // Rows first: bytes without a row are invisible, a row without bytes would be a broken file.
      await this.repo.deleteMany(gone.map((file) => file.id));
      await Promise.all(gone.map((file) => this.blobs.delete(file.path)));
    }
  }

  private async stage(user: User, upload: Upload): Promise<Staged> {
    const name = checkFileName(upload.filename);
    const inspector = new UploadInspector(name, (kind) => maxBytesOf(kind, this.limits));
    // The store fails (and cleans up) when either stream fails; this callback has nothing to add.
    const blob = await this.blobs.stage(pipeline(upload.stream, inspector, () => {}));
    const { type, size, sha256 } = inspector.result;
    if (contradicts(upload.declaredType, type)) {
      await blob.discard();
      throw new Invalid(`"${name}" was sent as ${upload.declaredType} but its content is ${type.mime}`, 'file');
    }
    const id = newId();
    const file: StoredFile = {
      id,
      ownerId: user.id,
      name,
      size,
      mimeType: type.mime,
      sha256,
      path: storedPath(id, type.kind, type.extension),
      createdAt: Date.now(),
    };
    return { file, blob };
  }

  /** Bytes first, then rows: a failure leaves neither (bytes are removed again if the rows fail). */
  private async commit(staged: Staged[]): Promise<void> {
    try {
      for (const { file, blob } of staged) await blob.commit(file.path);
      await this.repo.insertMany(staged.map(({ file }) => file));
    } catch (err) {
      await Promise.all(staged.map(({ file }) => this.blobs.delete(file.path)));
      throw err;
    }
  }

  private async readable(user: User, file: StoredFile | undefined): Promise<StoredFile> {
    if (file && (file.ownerId === user.id || (await this.repo.isReferencedForReader(file.id, user.id)))) return file;
    throw new NotFound('File');
  }

  private async contentPart(file: StoredFile, vision: boolean): Promise<ContentPart> {
    if (kindOf(file.mimeType) === 'images') {
      if (vision && VISION_TYPES.has(file.mimeType)) {
        const bytes = await this.blobs.readAll(file.path);
        return { type: 'image', url: `data:${file.mimeType};base64,${bytes.toString('base64')}` };
      }
      const why = vision ? 'its format is not one models read' : 'this model does not read images';
      return { type: 'text', text: `[Image attached: ${file.name} — not shown, ${why}]` };
    }
    if (!isText(file.mimeType)) {
      return { type: 'text', text: `[File attached: ${file.name} (${file.mimeType}, ${file.size} bytes) — not shown]` };
    }
    const head = await this.blobs.readAll(file.path, this.limits.inlineTextMaxBytes);
    // A cut may fall inside a character: the decoder holds back its incomplete bytes.
    const text = new StringDecoder('utf8').write(head);
    const cut = file.size > head.length;
    const shown = Buffer.byteLength(text);
    return {
      type: 'text',
      text:
        `[File attached: ${file.name}]\n${text}` +
        (cut ? `\n[Cut: the first ${shown} of ${file.size} bytes are shown]` : ''),
    };
  }
}
