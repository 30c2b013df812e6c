import { fileTypeFromBuffer, supportedMimeTypes } from 'file-type';
import type { FileKind } from './model.js';

/** What a file is, judged from its bytes: its MIME type, the extension it is stored under, its kind. */
export interface FileType {
  mime: string;
  extension: string;
  kind: FileKind;
}

/** Enough leading bytes for file-type to recognise the formats it knows (its "reasonable" size). */
export const SIGNATURE_SAMPLE_BYTES = 4100;

export const OCTET_STREAM: FileType = { mime: 'application/octet-stream', extension: 'bin', kind: 'files' };

/**
 * Text has no signature: it is recognised by its content (UTF-8 without NUL bytes), and its
 * format is then taken from the name's extension. Stored under the first extension listed.
 */
const TEXT_FORMATS: ReadonlyArray<readonly [mime: string, ...extensions: string[]]> = [
  ['text/plain', 'txt', 'text', 'log'],
  ['text/markdown', 'md', 'markdown'],
  ['text/csv', 'csv'],
  ['text/tab-separated-values', 'tsv'],
  ['text/html', 'html', 'htm'],
  ['text/css', 'css'],
  ['text/javascript', 'js', 'mjs', 'cjs'],
  ['application/json', 'json'],
  ['application/x-ndjson', 'ndjson', 'jsonl'],
  ['application/xml', 'xml'],
  ['application/yaml', 'yaml', 'yml'],
  ['application/toml', 'toml'],
  ['text/calendar', 'ics'],
  ['text/vtt', 'vtt'],
  // SVG is XML text that can carry scripts: stored and served as a text file, never as an image.
  ['image/svg+xml', 'svg'],
];

const TEXT_BY_EXTENSION = new Map<string, FileType>(
  TEXT_FORMATS.flatMap(([mime, ...extensions]) =>
    extensions.map((extension) => [extension, { mime, extension: extensions[0]!, kind: 'files' }] as const),
  ),
);
const TEXT_TYPES = new Set(TEXT_FORMATS.map(([mime]) => mime));

/** The type of a text file called `name`. */
export function textTypeOf(name: string): FileType {
  const dot = name.lastIndexOf('.');
  return (dot > 0 && TEXT_BY_EXTENSION.get(name.slice(dot + 1).toLowerCase())) || TEXT_BY_EXTENSION.get('txt')!;
}

/** Whether a stored file is text (and so can be shown to a model as it is). */
export function isText(mime: string): boolean {
  return TEXT_TYPES.has(mime);
}

/**
 * The type a file's leading bytes announce, if they carry a known signature. Formats file-type
 * finds by a leading keyword in text (`<?xml`, `BEGIN:VCALENDAR`…) are left to the text rule.
 */
export async function signatureOf(sample: Uint8Array): Promise<FileType | undefined> {
  const found = await fileTypeFromBuffer(sample);
  if (!found || familyOf(found.mime) === 'text') return undefined;
  // Stored paths take one lower-case extension: `tar.gz` is stored as `.gz`, `Z` as `.z`.
  const extension = found.ext.split('.').pop()!.toLowerCase();
  return { mime: found.mime, extension, kind: kindOf(found.mime) };
}

export function kindOf(mime: string): FileKind {
  const family = familyOf(mime);
  if (family === 'image') return 'images';
  if (family === 'media') return mime.startsWith('video/') ? 'videos' : 'audios';
  return 'files';
}

/** Families of types a client may name loosely (image/jpg, audio/webm…) but never interchange. */
type Family = 'image' | 'media' | 'text' | 'binary';

const TEXT_APPLICATION_TYPES = new Set([
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/x-ndjson',
  'application/yaml',
  'application/x-yaml',
  'application/toml',
  'application/sql',
]);
const MEDIA_APPLICATION_TYPES = new Set(['application/ogg', 'application/mp4']);
/** What clients send when they do not know the type: it claims nothing. */
const GENERIC_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/unknown']);

function essence(mime: string): string {
  return mime.split(';')[0]!.trim().toLowerCase();
}

function familyOf(mime: string): Family {
  const type = essence(mime);
  if (type.startsWith('text/') || /[+/](json|xml)$/.test(type) || TEXT_APPLICATION_TYPES.has(type)) return 'text';
  if (type.startsWith('image/')) return 'image';
  if (type.startsWith('audio/') || type.startsWith('video/') || MEDIA_APPLICATION_TYPES.has(type)) return 'media';
  return 'binary';
}

/**
 * Whether the client's declared type contradicts the bytes. Within a family the detected type
 * simply wins; a declared type of another family is a lie (a PNG that is text, a text that is a
 * PDF), except text sent under an application type that has no signature to check (`application/x-sh`,
 * or `application/vnd.ms-excel`, which Windows gives CSV files).
 */
export function contradicts(declared: string, detected: FileType): boolean {
  const claimed = essence(declared);
  if (GENERIC_TYPES.has(claimed) || claimed === essence(detected.mime)) return false;
  const claimedFamily = familyOf(claimed);
  const actualFamily = familyOf(detected.mime);
  if (claimedFamily === actualFamily) return false;
  return !(claimedFamily === 'binary' && actualFamily === 'text' && !supportedMimeTypes.has(claimed));
}
