import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { TextDecoder } from 'node:util';
import { Invalid } from '../errors.js';
import { OCTET_STREAM, SIGNATURE_SAMPLE_BYTES, signatureOf, textTypeOf, type FileType } from './detect.js';
import type { FileKind } from './model.js';
import { FileTooLarge } from './rules.js';

export interface Inspection {
  type: FileType;
  size: number;
  sha256: string;
}

/**
 * Watches an upload on its way to storage: counts and hashes it, recognises its type from the
 * first bytes (so that the limit of its kind applies while it streams, not after), and follows
 * whether it is text. Fails the stream as soon as a limit is passed.
 */
export class UploadInspector extends Transform {
  private size = 0;
  private readonly hash = createHash('sha256');
  private sample: Buffer[] = [];
  private sampled = 0;
  /** Undefined until the sample has been looked at; null when it carries no known signature. */
  private signature: FileType | null | undefined;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  private text = true;
  private inspection: Inspection | undefined;

  constructor(
    private readonly name: string,
    private readonly maxBytesOf: (kind: FileKind) => number,
  ) {
    super();
  }

  /** What the bytes turned out to be; known once the stream has ended. */
  get result(): Inspection {
    if (!this.inspection) throw new Error('The upload has not been read to its end');
    return this.inspection;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.inspect(chunk).then(() => callback(null, chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.finish().then(() => callback(), callback);
  }

  private async inspect(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    this.hash.update(chunk);
    if (this.signature === undefined) {
      this.sample.push(chunk);
      this.sampled += chunk.length;
      if (this.sampled >= SIGNATURE_SAMPLE_BYTES) await this.recognise();
    }
    if (!this.signature) this.followText(chunk);
    this.checkSize();
  }

  private async finish(): Promise<void> {
    if (this.size === 0) throw new Invalid(`"${this.name}" is empty`, 'file');
    if (this.signature === undefined) await this.recognise();
    this.checkSize();
    if (!this.signature && this.text) this.followText(undefined);
    const type = this.signature ?? (this.text ? textTypeOf(this.name) : OCTET_STREAM);
    this.inspection = { type, size: this.size, sha256: this.hash.digest('hex') };
  }

  private async recognise(): Promise<void> {
    this.signature = (await signatureOf(Buffer.concat(this.sample))) ?? null;
    this.sample = [];
  }

  /** Text is valid UTF-8 throughout, without NUL bytes; `undefined` checks the end is not cut mid-character. */
  private followText(chunk: Buffer | undefined): void {
    if (!this.text) return;
    try {
      if (chunk === undefined) this.utf8.decode();
      else if (chunk.includes(0)) this.text = false;
      else this.utf8.decode(chunk, { stream: true });
    } catch {
      this.text = false;
    }
  }

  private checkSize(): void {
    if (this.signature === undefined) return;
    const kind = this.signature?.kind ?? 'files';
    const maxBytes = this.maxBytesOf(kind);
    if (this.size > maxBytes) throw new FileTooLarge(this.name, kind, maxBytes);
  }
}
