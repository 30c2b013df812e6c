import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/core/ids.js';
import type { StoredFile } from '../src/core/files/model.js';
import { signUp, type Account } from './helpers/accounts.js';
import { startServer, type TestServer } from './helpers/server.js';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////' +
    '////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=',
  'base64',
);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
/** A WAV header with a few samples: RIFF…WAVE. */
const WAV = Buffer.concat([
  Buffer.from('RIFF'),
  Buffer.from([44, 0, 0, 0]),
  Buffer.from('WAVEfmt '),
  Buffer.from([16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]),
  Buffer.from('data'),
  Buffer.from([8, 0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 0]),
]);
/** An MP4 `ftyp` box. */
const MP4 = Buffer.concat([
  Buffer.from([0, 0, 0, 0x18]),
  Buffer.from('ftypisom'),
  Buffer.from([0, 0, 2, 0]),
  Buffer.from('isomiso2'),
  Buffer.alloc(16),
]);
/** Bytes with no signature that are not text either. */
const BINARY = Buffer.from([0x00, 0x9f, 0x92, 0x96, 0xff, 0x00, 0x01, 0x02, 0x03]);

interface Part {
  /** The file name, written as is in `filename="…"`, or via `filename*` when `encoded`. */
  name: string;
  bytes: Buffer | string;
  /** The declared content type; none sent when null. */
  type?: string | null;
  field?: string;
  encoded?: boolean;
  /** A plain form field instead of a file. */
  plain?: boolean;
}

/** A multipart body written by hand, so that names and types are exactly what a test says. */
function multipart(parts: Part[]): { rawBody: Buffer; contentType: string } {
  const boundary = `----parley${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const filename = part.plain
      ? ''
      : part.encoded
        ? `; filename*=UTF-8''${encodeURIComponent(part.name)}`
        : `; filename="${part.name.replace(/"/g, '%22')}"`;
    const type = part.type === null || part.plain ? '' : `Content-Type: ${part.type ?? 'application/octet-stream'}\r\n`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.field ?? 'file'}"${filename}\r\n${type}\r\n`,
      ),
      Buffer.from(part.bytes),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { rawBody: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

function upload(server: TestServer, account: Account, parts: Part[]) {
  return server.http.call('POST', '/api/v1/files', { ...multipart(parts), bearer: account.key });
}

async function uploadOne(server: TestServer, account: Account, part: Part): Promise<StoredFile> {
  const res = await upload(server, account, [part]);
  expect(res.status).toBe(201);
  return res.body[0];
}

/** Every file under the blob directory, temporary ones included. */
async function blobFiles(server: TestServer): Promise<string[]> {
  const root = join(server.config.dataDir, 'files');
  try {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function fileRows(server: TestServer): Promise<number> {
  const { count } = await server.parley.database.db
    .selectFrom('files')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(count);
}

/** Asserts that the call changes neither rows nor bytes, and leaves no temporary file behind. */
async function expectNothingWritten(server: TestServer, call: () => Promise<void>): Promise<void> {
  const rows = await fileRows(server);
  const blobs = await blobFiles(server);
  await call();
  expect(await fileRows(server)).toBe(rows);
  expect(await blobFiles(server)).toEqual(blobs);
  expect(blobs.filter((path) => path.startsWith('tmp'))).toEqual([]);
}

/** A conversation owned by `ownerId` whose one message references `fileIds`, written directly. */
async function referenceInConversation(server: TestServer, ownerId: string, fileIds: string[]): Promise<string> {
  const db = server.parley.database.db;
  const now = Date.now();
  const conversationId = newId();
  const messageId = newId();
  await db
    .insertInto('conversations')
    .values({
      id: conversationId,
      ownerId,
      botId: null,
      groupId: null,
      title: null,
      model: null,
      systemPrompt: null,
      variables: '{}',
      contextClearedAt: null,
      messageCount: 1,
      lastMessageId: null,
      lastMessagePreview: null,
      lastMessageAt: null,
      createdAt: now,
      updatedAt: now,
    })
    .execute();
  await db
    .insertInto('messages')
    .values({
      id: messageId,
      conversationId,
      senderId: ownerId,
      role: 'user',
      content: 'see attached',
      attachments: JSON.stringify(fileIds),
      model: null,
      promptTokens: null,
      completionTokens: null,
      status: 'complete',
      error: null,
      parentId: null,
      clientId: null,
      createdAt: now,
      updatedAt: now,
    })
    .execute();
  await db
    .insertInto('messageFiles')
    .values(fileIds.map((fileId) => ({ messageId, fileId, conversationId })))
    .execute();
  return conversationId;
}

function userOf(server: TestServer, account: Account) {
  return server.parley.core.users.get(account.id);
}

describe('files', () => {
  let server: TestServer;
  let alice: Account;
  let bob: Account;

  beforeAll(async () => {
    server = await startServer();
    alice = await signUp(server.http);
    bob = await signUp(server.http);
  });
  afterAll(() => server.close());

  it('uploads one image and answers its metadata, with the type detected from the bytes', async () => {
    const res = await upload(server, alice, [{ name: 'pixel.png', bytes: PNG, type: 'image/png' }]);
    expect(res.status).toBe(201);
    expect(res.body).toHaveLength(1);
    const [file] = res.body;
    expect(Object.keys(file).sort()).toEqual(['createdAt', 'id', 'mimeType', 'name', 'path', 'size']);
    expect(file).toMatchObject({ name: 'pixel.png', size: PNG.length, mimeType: 'image/png' });
    expect(file.path).toBe(`static/images/${file.id}.png`);
    expect(file.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(await readFile(join(server.config.dataDir, 'files', file.path))).toEqual(PNG);

    const meta = await server.http.get(`/api/v1/files/${file.id}`, { cookie: alice.cookie });
    expect(meta.status).toBe(200);
    expect(meta.body).toEqual(file);
  });

  it('uploads several files in one request, each typed and placed by its content', async () => {
    const res = await upload(server, alice, [
      { name: 'photo.jpg', bytes: JPEG, type: 'image/jpg' },
      { name: 'anim.gif', bytes: GIF },
      { name: 'notes.md', bytes: '# Notes\n\nSome *markdown*.\n', type: 'text/markdown' },
      { name: 'table.csv', bytes: 'a,b\n1,2\n', type: 'application/vnd.ms-excel' },
      { name: 'data.json', bytes: '{"a":1}', type: null },
      { name: 'script.py', bytes: 'print("hi")\n', type: 'text/x-python' },
      { name: 'report.pdf', bytes: PDF, type: 'application/pdf' },
      { name: 'sound.wav', bytes: WAV, type: 'audio/x-wav' },
      { name: 'clip.mp4', bytes: MP4, type: 'video/mp4' },
      { name: 'blob.dat', bytes: BINARY },
    ]);
    expect(res.status).toBe(201);
    const typed = res.body.map((f: StoredFile) => [f.name, f.mimeType, f.path.replace(f.id, 'ID')]);
    expect(typed).toEqual([
      ['photo.jpg', 'image/jpeg', 'static/images/ID.jpg'],
      ['anim.gif', 'image/gif', 'static/images/ID.gif'],
      ['notes.md', 'text/markdown', 'static/files/ID.md'],
      ['table.csv', 'text/csv', 'static/files/ID.csv'],
      ['data.json', 'application/json', 'static/files/ID.json'],
      ['script.py', 'text/plain', 'static/files/ID.txt'],
      ['report.pdf', 'application/pdf', 'static/files/ID.pdf'],
      ['sound.wav', 'audio/wav', 'static/audios/ID.wav'],
      ['clip.mp4', 'video/mp4', 'static/videos/ID.mp4'],
      ['blob.dat', 'application/octet-stream', 'static/files/ID.bin'],
    ]);
    expect(new Set(res.body.map((f: StoredFile) => f.id)).size).toBe(10);

    const more = await upload(server, alice, [
      // Without a part type (text/plain by default in multipart), nothing is claimed.
      { name: 'untyped.png', bytes: PNG, type: null },
      { name: 'archive.gz', bytes: gzipSync('compressed') },
    ]);
    expect(more.status).toBe(201);
    expect(more.body.map((f: StoredFile) => [f.mimeType, f.path.replace(f.id, 'ID')])).toEqual([
      ['image/png', 'static/images/ID.png'],
      ['application/gzip', 'static/files/ID.gz'],
    ]);
  });

  it('keeps names in any script, for display only', async () => {
    const plain = await uploadOne(server, alice, { name: 'résumé 📄 (final).txt', bytes: 'hello' });
    expect(plain.name).toBe('résumé 📄 (final).txt');
    const encoded = await uploadOne(server, alice, { name: 'naïve.txt', bytes: 'hi', encoded: true });
    expect(encoded.name).toBe('naïve.txt');
    expect(encoded.path).toMatch(/^static\/files\/[0-9A-Z]{26}\.txt$/);
  });

  it('serves the bytes under /static with their type, length, disposition and caching rules', async () => {
    const image = await uploadOne(server, alice, { name: 'pixel.png', bytes: PNG });
    const res = await fetch(`${server.url}/${image.path}`, { headers: { authorization: `Bearer ${alice.key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-length')).toBe(String(PNG.length));
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('private');
    expect(res.headers.get('content-disposition')).toBe(`inline; filename="pixel.png"; filename*=UTF-8''pixel.png`);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(PNG);

    const pdf = await uploadOne(server, alice, { name: 'Ünïcode "quoted" (1).pdf', bytes: PDF, encoded: true });
    const download = await fetch(`${server.url}/${pdf.path}`, { headers: { cookie: alice.cookie } });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/pdf');
    expect(download.headers.get('content-disposition')).toBe(
      `attachment; filename="_n_code _quoted_ (1).pdf"; filename*=UTF-8''%C3%9Cn%C3%AFcode%20%22quoted%22%20%281%29.pdf`,
    );
    expect(Buffer.from(await download.arrayBuffer())).toEqual(PDF);

    // Text, even HTML, is never rendered in place: it is downloaded.
    const html = await uploadOne(server, alice, { name: 'page.html', bytes: '<script>alert(1)</script>' });
    const page = await fetch(`${server.url}/${html.path}`, { headers: { cookie: alice.cookie } });
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-disposition')).toMatch(/^attachment;/);
    const svg = await uploadOne(server, alice, {
      name: 'vector.svg',
      bytes: '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
      type: 'image/svg+xml',
    });
    expect(svg).toMatchObject({ mimeType: 'image/svg+xml' });
    expect(svg.path).toMatch(/^static\/files\//);
    const vector = await fetch(`${server.url}/${svg.path}`, { headers: { cookie: alice.cookie } });
    expect(vector.headers.get('content-disposition')).toMatch(/^attachment;/);

    const anonymous = await fetch(`${server.url}/${image.path}`);
    expect(anonymous.status).toBe(401);
  });

  it('lets only the owner and readers of a referencing conversation see a file; 404 for everyone else', async () => {
    const file = await uploadOne(server, alice, { name: 'private.png', bytes: PNG });
    const other = await uploadOne(server, alice, { name: 'other.png', bytes: PNG });
    const asBob = { bearer: bob.key };
    const staticAs = (account: Account, path: string) =>
      fetch(`${server.url}/${path}`, { headers: { authorization: `Bearer ${account.key}` } });

    expect((await server.http.get(`/api/v1/files/${file.id}`, asBob)).status).toBe(404);
    expect((await staticAs(bob, file.path)).status).toBe(404);
    const unknown = newId();
    const missing = await server.http.get(`/api/v1/files/${unknown}`, asBob);
    expect(missing.status).toBe(404);
    // Someone else's file and no file at all look the same.
    expect((await server.http.get(`/api/v1/files/${file.id}`, asBob)).body).toEqual(missing.body);
    expect((await staticAs(alice, file.path.replace(file.id, unknown))).status).toBe(404);
    for (const path of [
      'static/images/../../parley.db',
      'static/images/%2e%2e%2f%2e%2e%2fparley.db',
      'static/tmp/x.part',
      `static/images/${file.id}.png/..`,
      `static/files/${file.id}.png`,
      'static/',
    ]) {
      expect((await staticAs(alice, path)).status, path).toBe(404);
    }

    // A conversation Bob owns references the file: Bob may read it, and only it.
    await referenceInConversation(server, bob.id, [file.id]);
    const meta = await server.http.get(`/api/v1/files/${file.id}`, asBob);
    expect(meta.status).toBe(200);
    expect(meta.body.id).toBe(file.id);
    const bytes = await staticAs(bob, file.path);
    expect(bytes.status).toBe(200);
    expect(Buffer.from(await bytes.arrayBuffer())).toEqual(PNG);
    expect((await staticAs(bob, other.path)).status).toBe(404);

    // A conversation someone else owns grants Bob nothing.
    const carol = await signUp(server.http);
    await referenceInConversation(server, carol.id, [other.id]);
    expect((await staticAs(bob, other.path)).status).toBe(404);
    expect((await staticAs(carol, other.path)).status).toBe(200);
  });

  describe('refuses bad uploads with nothing written', () => {
    const cases: Array<[string, Part[], number, RegExp]> = [
      ['text declared as PNG', [{ name: 'a.png', bytes: 'just text', type: 'image/png' }], 400, /image\/png/],
      ['PDF declared as PNG', [{ name: 'a.png', bytes: PDF, type: 'image/png' }], 400, /application\/pdf/],
      ['PNG declared as text', [{ name: 'a.md', bytes: PNG, type: 'text/markdown' }], 400, /image\/png/],
      ['text declared as PDF', [{ name: 'a.pdf', bytes: 'plain', type: 'application/pdf' }], 400, /text\/plain/],
      ['binary declared as text', [{ name: 'a.csv', bytes: BINARY, type: 'text/csv' }], 400, /octet-stream/],
      ['a parent path', [{ name: '../x', bytes: 'x' }], 400, /paths/],
      ['a nested path', [{ name: 'a/b', bytes: 'x' }], 400, /paths/],
      ['a Windows path', [{ name: '..\\x', bytes: 'x' }], 400, /paths/],
      ['an absolute path', [{ name: '/etc/passwd', bytes: 'x' }], 400, /paths/],
      ['"..".', [{ name: '..', bytes: 'x' }], 400, /paths/],
      ['a NUL in the name', [{ name: 'a\0.png', bytes: PNG, encoded: true }], 400, /control/],
      ['a control character in the name', [{ name: 'bell\x07.txt', bytes: 'x', encoded: true }], 400, /control/],
      // The multipart parser drops a part whose name holds a line break before it reaches the core.
      ['a newline in the name', [{ name: 'a\nb.txt', bytes: 'x', encoded: true }], 400, /No file/],
      ['a direction override in the name', [{ name: 'photo\u202egnp.exe', bytes: 'x' }], 400, /direction/],
      ['a name over 255 bytes', [{ name: `${'é'.repeat(126)}.txt`, bytes: 'x' }], 400, /255 bytes/],
      ['an empty name', [{ name: '', bytes: 'x' }], 400, /name/],
      ['an empty file', [{ name: 'empty.txt', bytes: '' }], 400, /empty/],
      ['no file part', [{ name: '', field: 'note', bytes: 'hello', plain: true }], 400, /No file/],
      ['a file under another field', [{ name: 'a.txt', field: 'attachment', bytes: 'x' }], 400, /named "file"/],
      [
        'too many files',
        Array.from({ length: 11 }, (_, i) => ({ name: `f${i}.txt`, bytes: 'x' })),
        400,
        /At most 10 files/,
      ],
      [
        'a good file, then a bad name',
        [
          { name: 'good.png', bytes: PNG },
          { name: 'fine.txt', bytes: 'fine' },
          { name: '../evil', bytes: 'x' },
        ],
        400,
        /paths/,
      ],
      [
        'good files, then a lying one',
        [
          { name: 'good.png', bytes: PNG },
          { name: 'liar.png', bytes: 'not an image', type: 'image/png' },
        ],
        400,
        /image\/png/,
      ],
    ];

    it.each(cases)('%s', async (_title, parts, status, message) => {
      await expectNothingWritten(server, async () => {
        const res = await upload(server, alice, parts);
        expect(res.status).toBe(status);
        expect(res.body.error.code).toBe('VALIDATION_ERROR');
        expect(res.body.error.message).toMatch(message);
      });
    });

    it('a body that is not multipart (415), or a cut-off one (400)', async () => {
      await expectNothingWritten(server, async () => {
        const json = await server.http.post('/api/v1/files', { file: 'x' }, { bearer: alice.key });
        expect(json.status).toBe(415);
        expect(json.body.error.message).toMatch(/multipart\/form-data/);
        const empty = await server.http.call('POST', '/api/v1/files', { bearer: alice.key });
        expect(empty.status).toBe(415);

        const { rawBody, contentType } = multipart([{ name: 'cut.txt', bytes: 'a'.repeat(1000) }]);
        const cut = await server.http.call('POST', '/api/v1/files', {
          rawBody: rawBody.subarray(0, 300),
          contentType,
          bearer: alice.key,
        });
        expect(cut.status).toBe(400);
        expect(cut.body.error.code).toBe('VALIDATION_ERROR');
      });
    });

    it('answers a refusal early and keeps the connection usable, however much body is left', async () => {
      await expectNothingWritten(server, async () => {
        const res = await upload(server, alice, [
          { name: '../first', bytes: 'x' },
          { name: 'big.bin', bytes: Buffer.alloc(5 * 1024 * 1024, 7) },
        ]);
        expect(res.status).toBe(400);
      });
      expect((await server.http.get('/api/v1/me', { bearer: alice.key })).status).toBe(200);
      expect((await upload(server, alice, [{ name: 'after.txt', bytes: 'ok' }])).status).toBe(201);
    });
  });

  it('documents the routes in OpenAPI', async () => {
    const res = await server.http.get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.paths['/api/v1/files'].post.responses['201']).toBeDefined();
    expect(res.body.paths['/api/v1/files/{id}'].get).toBeDefined();
    expect(Object.keys(res.body.paths).some((path) => path.startsWith('/static/'))).toBe(true);
  });

  describe('attaching files to messages', () => {
    it('attachable: own files only, in the order given, once each', async () => {
      const user = await userOf(server, alice);
      const a = await uploadOne(server, alice, { name: 'a.txt', bytes: 'a' });
      const b = await uploadOne(server, alice, { name: 'b.txt', bytes: 'b' });
      const files = server.parley.core.files;
      expect((await files.attachable(user, [b.id, a.id, b.id])).map((f) => f.id)).toEqual([b.id, a.id]);
      const bobsFile = await uploadOne(server, bob, { name: 'bob.txt', bytes: 'bob' });
      await expect(files.attachable(user, [a.id, bobsFile.id])).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(files.attachable(user, [newId()])).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(files.attachable(user, [])).resolves.toEqual([]);
    });

    it('contentParts: images as image parts for vision models, named otherwise; text inline; others named', async () => {
      const files = server.parley.core.files;
      const image = await uploadOne(server, alice, { name: 'pixel.png', bytes: PNG });
      const text = await uploadOne(server, alice, { name: 'notes.md', bytes: '# Title\nbody' });
      const pdf = await uploadOne(server, alice, { name: 'report.pdf', bytes: PDF });

      const vision = await files.contentParts([image, text, pdf], { vision: true });
      expect(vision[0]).toEqual({ type: 'image', url: `data:image/png;base64,${PNG.toString('base64')}` });
      expect(vision[1]).toEqual({ type: 'text', text: '[File attached: notes.md]\n# Title\nbody' });
      expect(vision[2]).toMatchObject({ type: 'text' });
      expect((vision[2] as { text: string }).text).toContain('report.pdf');
      expect((vision[2] as { text: string }).text).not.toContain('%PDF');

      const blind = await files.contentParts([image], { vision: false });
      expect(blind).toEqual([{ type: 'text', text: expect.stringContaining('pixel.png') }]);
      expect(JSON.stringify(blind)).not.toContain('base64');
    });
  });

  it('removeUnreferenced removes rows and bytes of unreferenced files only', async () => {
    const kept = await uploadOne(server, alice, { name: 'kept.png', bytes: PNG });
    const dropped = await uploadOne(server, alice, { name: 'dropped.txt', bytes: 'bye' });
    await referenceInConversation(server, alice.id, [kept.id]);

    await server.parley.core.files.removeUnreferenced([kept.id, dropped.id, newId()]);

    const db = server.parley.database.db;
    const rows = await db.selectFrom('files').select('id').where('id', 'in', [kept.id, dropped.id]).execute();
    expect(rows.map((r) => r.id)).toEqual([kept.id]);
    const blobs = await blobFiles(server);
    expect(blobs).toContain(kept.path);
    expect(blobs).not.toContain(dropped.path);
    expect((await server.http.get(`/api/v1/files/${dropped.id}`, { bearer: alice.key })).status).toBe(404);
  });
});

describe('files with small limits', () => {
  let server: TestServer;
  let account: Account;

  beforeAll(async () => {
    server = await startServer({
      'files.imageMaxBytes': 1000,
      'files.audioMaxBytes': 2000,
      'files.otherMaxBytes': 3000,
      'files.maxFilesPerUpload': 2,
      'files.inlineTextMaxBytes': 10,
    });
    account = await signUp(server.http);
  });
  afterAll(() => server.close());

  const padded = (bytes: Buffer, size: number) => Buffer.concat([bytes, Buffer.alloc(size - bytes.length)]);

  it.each([
    ['an image', padded(PNG, 1001), /larger than 1000 bytes, the limit for images/],
    ['an audio file', padded(WAV, 2001), /larger than 2000 bytes, the limit for audios/],
    ['a video', padded(MP4, 3001), /larger than 3000 bytes, the limit for videos/],
    ['a text file', Buffer.from('t'.repeat(3001)), /larger than 3000 bytes, the limit for files/],
    ['a file far over every limit', Buffer.alloc(200_000, 1), /larger than 3000 bytes/],
  ])('refuses %s over the limit of its kind with 413 and nothing written', async (_title, bytes, message) => {
    await expectNothingWritten(server, async () => {
      const res = await upload(server, account, [{ name: 'big', bytes }]);
      expect(res.status).toBe(413);
      expect(res.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(message) });
    });
  });

  it('accepts each kind up to its own limit', async () => {
    const res = await upload(server, account, [
      { name: 'image.png', bytes: padded(PNG, 1000) },
      { name: 'sound.wav', bytes: padded(WAV, 2000) },
    ]);
    expect(res.status).toBe(201);
    expect(res.body.map((f: StoredFile) => [f.mimeType, f.size])).toEqual([
      ['image/png', 1000],
      ['audio/wav', 2000],
    ]);
    // A text file may be larger than an image may.
    expect((await upload(server, account, [{ name: 't.txt', bytes: 't'.repeat(3000) }])).status).toBe(201);
  });

  it('is all or nothing: one file over its limit refuses the files before it', async () => {
    await expectNothingWritten(server, async () => {
      const res = await upload(server, account, [
        { name: 'ok.txt', bytes: 'fine' },
        { name: 'big.png', bytes: padded(PNG, 1500) },
      ]);
      expect(res.status).toBe(413);
    });
  });

  it('refuses more files than maxFilesPerUpload', async () => {
    await expectNothingWritten(server, async () => {
      const res = await upload(
        server,
        account,
        ['a', 'b', 'c'].map((name) => ({ name: `${name}.txt`, bytes: name })),
      );
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/At most 2 files/);
    });
  });

  it('inlines text up to inlineTextMaxBytes, cut on a character boundary and marked', async () => {
    // 1 + 6 × 2 bytes: the 10-byte cut falls inside the fifth "é".
    const text = await uploadOne(server, account, { name: 'accents.txt', bytes: 'aéééééé' });
    const short = await uploadOne(server, account, { name: 'short.txt', bytes: 'ten bytes!' });
    const [cut, whole] = await server.parley.core.files.contentParts([text, short], { vision: false });
    expect(cut).toEqual({
      type: 'text',
      text: '[File attached: accents.txt]\naéééé\n[Cut: the first 9 of 13 bytes are shown]',
    });
    expect(whole).toEqual({ type: 'text', text: '[File attached: short.txt]\nten bytes!' });
  });
});
