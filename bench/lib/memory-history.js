// The least a server can do to answer a history request: `node bench/lib/memory-history.js` listens on
// 127.0.0.1:$PORT with a bare Fastify route that answers GET /api/v1/conversations/:id/messages with the page in
// $PAGE_FILE (JSON, read once at start), serialised anew for each request as any answer from memory would be.
// No auth, no store: the baseline that Parley's history endpoint is measured against.
import { readFileSync } from 'node:fs';
import fastify from 'fastify';

const page = JSON.parse(readFileSync(process.env.PAGE_FILE, 'utf8'));
const app = fastify();
app.get('/api/v1/conversations/:id/messages', async () => page);
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
