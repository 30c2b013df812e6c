import { finished, PassThrough, type Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { User } from '../core/accounts/model.js';
import { DomainError, Invalid, TooLarge } from '../core/errors.js';
import type { StoredFile } from '../core/files/model.js';
import { largestFileBytes, type FileLimits } from '../core/files/rules.js';
import type { FileService, Upload } from '../core/files/service.js';

/** Form fields besides the files are ignored, but only a few small ones are read at all. */
const MAX_FIELDS = 10;

class NotMultipart extends Error {
  readonly statusCode = 415;
  constructor() {
    super('Send files as multipart/form-data, in parts named "file"');
  }
}

/**
 * Makes the scope's routes take multipart bodies only (anything else is a 415), read as a stream
 * within the file limits. Give the upload route a scope of its own.
 */
export async function acceptUploads(scope: FastifyInstance, limits: FileLimits): Promise<void> {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_request, _payload, done) => done(new NotMultipart(), undefined));
  await scope.register(multipart, {
    // Names reach the core as sent, so that path-like ones are refused instead of cut to their last segment.
    preservePath: true,
    limits: {
      // One byte over the largest limit reaches the core, which refuses it with the limit of its kind.
      fileSize: largestFileBytes(limits) + 1,
      // One file too many reaches the core too, which refuses the upload as a whole.
      files: limits.maxFilesPerUpload + 1,
      fields: MAX_FIELDS,
      fieldNameSize: 100,
      fieldSize: 1024,
      parts: limits.maxFilesPerUpload + 1 + MAX_FIELDS,
      headerPairs: 20,
    },
  });
}

/** Stores the files of a multipart request (parts named "file"), all of them or none. */
export async function storeUploads(files: FileService, user: User, request: FastifyRequest): Promise<StoredFile[]> {
  try {
    return await files.upload(user, uploadsOf(request));
  } catch (err) {
    // The refusal is answered at once; the rest of the body is read and dropped, as Node does
    // for any unread body, so that the connection stays usable.
    request.raw.unpipe();
    request.raw.resume();
    throw err;
  }
}

/** The file parts of the request, as the core reads them; other form fields are skipped. */
async function* uploadsOf(request: FastifyRequest): AsyncGenerator<Upload> {
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'file') continue;
      if (part.fieldname !== 'file') {
        throw new Invalid(`Files go in parts named "file", not "${part.fieldname}"`, part.fieldname);
      }
      yield {
        filename: part.filename,
        // A part without a type is text/plain by the rules of multipart (RFC 7578), and many
        // clients send files of any kind that way: text/plain there claims nothing.
        declaredType: part.mimetype === 'text/plain' ? '' : part.mimetype,
        stream: withParserErrorsInvalid(part.file),
      };
    }
  } catch (err) {
    throw parserError(err);
  }
}

/**
 * The file's bytes for the core. The parser fails a file stream only when the body is malformed
 * or cut short, which is the client's fault; failures downstream (storage) stay what they are.
 * (`finished` also reports a stream that failed before this was called, as a small body can.)
 */
function withParserErrorsInvalid(file: Readable): PassThrough {
  const bytes = new PassThrough();
  finished(file, (err) => {
    if (err) bytes.destroy(new Invalid(`Malformed multipart body: ${err.message}`));
  });
  file.pipe(bytes);
  return bytes;
}

/** Multipart's own refusals in domain terms: too large for size, invalid for the rest. */
function parserError(err: unknown): unknown {
  if (err instanceof DomainError) return err;
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new NotMultipart();
    case 'FST_REQ_FILE_TOO_LARGE':
      return new TooLarge('A file is larger than any upload may be', { field: 'file' });
    case 'FST_FILES_LIMIT':
      return new Invalid('Too many files in one upload', 'file');
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new Invalid(`Too many form fields; send files only, in parts named "file"`);
    case 'FST_PROTO_VIOLATION':
    case 'FST_INVALID_JSON_FIELD_ERROR':
    case 'FST_MP_PREMATURE_CLOSE':
      return new Invalid((err as Error).message);
  }
  // Anything else out of the parser is a body it could not read.
  return new Invalid(`Malformed multipart body: ${(err as Error).message}`);
}
