import type { Config } from '../../config/schema.js';
import { Invalid, TooLarge } from '../errors.js';
import { FILE_KINDS, type FileKind } from './model.js';

export type FileLimits = Config['files'];

/** Longest file name, in UTF-8 bytes: what common filesystems allow, though names never reach one. */
export const FILE_NAME_MAX_BYTES = 255;

/** `static/<kind>/<ulid>.<ext>`: the only shape of path a file is stored and served under. */
const STATIC_PATH = new RegExp(`^static/(${FILE_KINDS.join('|')})/[0-9A-HJKMNP-TV-Z]{26}\\.[a-z0-9]{1,16}$`);

export function storedPath(id: string, kind: FileKind, extension: string): string {
  return `static/${kind}/${id}.${extension}`;
}

export function isStoredPath(path: string): boolean {
  return STATIC_PATH.test(path);
}

export function maxBytesOf(kind: FileKind, limits: FileLimits): number {
  if (kind === 'images') return limits.imageMaxBytes;
  if (kind === 'audios') return limits.audioMaxBytes;
  return limits.otherMaxBytes;
}

/** The limit of the most generous kind: no upload of any kind may be larger. */
export function largestFileBytes(limits: FileLimits): number {
  return Math.max(limits.imageMaxBytes, limits.audioMaxBytes, limits.otherMaxBytes);
}

// Control characters, and the bidirectional overrides that make "photo‮gnp.exe" look like a PNG.
const UNSAFE_CHARACTERS = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;

/**
 * A file name is for display only, yet clients and people save files under it: anything that
 * reads as a path, or hides what it is, is refused rather than silently rewritten.
 */
export function checkFileName(name: string): string {
  if (!name.trim()) throw new Invalid('Every file needs a name', 'file');
  if (Buffer.byteLength(name) > FILE_NAME_MAX_BYTES) {
    throw new Invalid(`File names are at most ${FILE_NAME_MAX_BYTES} bytes long`, 'file');
  }
  if (UNSAFE_CHARACTERS.test(name)) {
    throw new Invalid('File names must not contain control or text-direction characters', 'file');
  }
  if (/[/\\]/.test(name) || name === '.' || name === '..') {
    throw new Invalid(`File names must not be paths: "${name}"`, 'file');
  }
  return name;
}

/** A file over the limit of its kind; surfaces answer it as too large (HTTP 413). */
export class FileTooLarge extends TooLarge {
  constructor(name: string, kind: FileKind, maxBytes: number) {
    super(`"${name}" is larger than ${maxBytes} bytes, the limit for ${kind}`, {
      field: 'file',
      kind,
      maxBytes,
    });
  }
}
