// The least a WebSocket server can do to fan messages out to rooms: `node bench/lib/ws-broadcast.js` listens on
// 127.0.0.1:$PORT (GET /readyz answers 200) and speaks as much of Parley's /api/v1/ws protocol as the ws-fanout
// benchmark uses: `ready` on connect, `subscribe` → `subscribed`, and `message` → a `message` frame shaped as
// Parley's (the same fields, of the same lengths), serialised once and written to every socket of the room, and
// `sent` to the sender. No auth, no store, no heartbeat: the baseline that Parley's fan-out is measured against.
import http from 'node:http';
import { WebSocketServer } from 'ws';

let counter = 0;
/** An id as long as Parley's ULIDs (26 characters), so that the frames are as long as Parley's. */
const newId = () =>
  Date.now().toString(32).toUpperCase().padStart(10, '0') + (++counter).toString(32).toUpperCase().padStart(16, '0');

/** conversationId → its sockets. */
const rooms = new Map();
/** conversationId → its latest message's id: a message's parentId, as in Parley. */
const latest = new Map();

function subscribe(ws, joined, { id, conversationId }) {
  let room = rooms.get(conversationId);
  if (!room) rooms.set(conversationId, (room = new Set()));
  room.add(ws);
  joined.add(conversationId);
  ws.send(JSON.stringify({ type: 'subscribed', ref: id, conversationId, online: [] }));
}

function broadcast(ws, userId, { id, conversationId, content, clientId }) {
  const now = Date.now();
  const message = {
    id: newId(),
    conversationId,
    senderId: userId,
    role: 'user',
    content,
    attachments: [],
    model: null,
    usage: null,
    status: 'complete',
    error: null,
    parentId: latest.get(conversationId) ?? null,
    clientId,
    createdAt: now,
    updatedAt: now,
  };
  latest.set(conversationId, message.id);
  const text = JSON.stringify({ type: 'message', message });
  for (const socket of rooms.get(conversationId) ?? []) socket.send(text);
  ws.send(
    JSON.stringify({
      type: 'sent',
      ref: id,
      conversationId,
      clientId,
      duplicate: false,
      userMessage: message,
      reply: null,
    }),
  );
}

const server = http.createServer((req, res) => res.writeHead(req.url === '/readyz' ? 200 : 404).end());
// As Parley's: no compression, frames up to 1 MiB.
const wss = new WebSocketServer({ server, path: '/api/v1/ws', perMessageDeflate: false, maxPayload: 1024 * 1024 });
wss.on('connection', (ws) => {
  const userId = newId();
  const joined = new Set();
  ws.send(JSON.stringify({ type: 'ready', userId }));
  ws.on('message', (data) => {
    const frame = JSON.parse(data);
    if (frame.type === 'subscribe') subscribe(ws, joined, frame);
    else if (frame.type === 'message') broadcast(ws, userId, frame);
  });
  // A protocol error (a bad frame) ends the socket, as in Parley; the close below cleans up.
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    for (const conversationId of joined) rooms.get(conversationId)?.delete(ws);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
