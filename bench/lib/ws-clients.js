// The load generator of the ws-fanout benchmark, in a process of its own: `startWsClients()` runs this file pinned
// apart from the server and drives it over IPC. It holds the WebSockets (subscribed to one room each), sends each
// room's messages from one of the room's sockets with the send time in the text, and times each socket's receipt
// of the pushed `message` frame against it: senders and receivers share this process, and so one clock.
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { atExit } from './process.js';
import { percentile } from './stats.js';

const SCRIPT = fileURLToPath(import.meta.url);
/** A socket that is not ready and subscribed by then counts as failed. */
const OPEN_TIMEOUT_MS = 30_000;
/** After the last send, how long deliveries still missing are waited for before they count as lost. */
const GRACE_MS = 5_000;
const CLOSE_TIMEOUT_MS = 10_000;
/** How long each message's text is: about a line of chat. */
export const MESSAGE_CHARS = 100;
/** `<tag> room <room> seq <seq> sent <ms>`, then filler up to MESSAGE_CHARS. */
const CONTENT = /^(\S+) room (\d+) seq (\d+) sent (\d+\.\d+) /;

const sixDigits = (n) => String(n).padStart(6, '0');

/** Fixed widths, so that every message of a run (and its frame) has the same length on every server. */
function contentOf(tag, room, seq, sentAt) {
  const head = `${tag} room ${sixDigits(room)} seq ${sixDigits(seq)} sent ${sentAt.toFixed(3).padStart(12, '0')} `;
  return head.padEnd(MESSAGE_CHARS, 'lorem ipsum dolor sit amet ');
}

/** The live sockets, in the order they were given to `connect`. */
let sockets = [];
/** The fan-out being measured, or null. */
let run = null;
let frameIds = 0;
/** Frames that came outside a fan-out, or for another one (late): by type. */
const stray = {};

const count = (map, key) => (map[key] = (map[key] ?? 0) + 1);

function receive(client, data) {
  const at = performance.now();
  const frame = JSON.parse(data.toString());
  if (!run) return count(stray, frame.type);
  if (frame.type === 'message') return run.message(client, frame.message, at, data.length);
  if (frame.type === 'sent') return run.sent(frame.ref, at, data.length);
  count(run.frames, frame.type);
  if (frame.type === 'error') count(run.errors, frame.code);
}

/** Opens one socket and resolves once it is ready and subscribed to its room. */
function open(url, { token, room, roomIndex }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/api/v1/ws?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
    const client = { ws, room, roomIndex, userId: null, live: false, last: -1 };
    const fail = (why) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`not subscribed within ${OPEN_TIMEOUT_MS} ms`), OPEN_TIMEOUT_MS);
    ws.on('message', (data) => {
      if (client.live) return receive(client, data);
      const frame = JSON.parse(data.toString());
      if (frame.type === 'ready') {
        client.userId = frame.userId;
        ws.send(JSON.stringify({ type: 'subscribe', id: ++frameIds, conversationId: room }));
      } else if (frame.type === 'subscribed' && frame.conversationId === room) {
        clearTimeout(timer);
        client.live = true;
        resolve(client);
      } else if (frame.type === 'error') fail(`${frame.code}: ${frame.message}`);
    });
    ws.on('error', (err) => client.live || fail(err.message));
    ws.on('close', (code) => {
      if (!client.live) return fail(`closed with ${code} before it was subscribed`);
      if (run) count(run.closed, code);
    });
  });
}

/** Opens `specs.length` sockets, `concurrency` at a time; how long it took and what failed. */
async function connect({ url, specs, concurrency }) {
  if (sockets.length) throw new Error('close the sockets of the previous run first');
  const started = performance.now();
  const failures = [];
  let next = 0;
  sockets = new Array(specs.length);
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      try {
        sockets[i] = await open(url, specs[i]);
      } catch (err) {
        failures.push(`socket ${i} (room ${specs[i].roomIndex}): ${err.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
  const seconds = (performance.now() - started) / 1000;
  const opened = sockets.filter(Boolean).length;
  // The layout is all or nothing: the senders and the counts of deliveries are by socket index.
  if (failures.length) {
    sockets = sockets.filter(Boolean);
    await closeAll();
  }
  return {
    opened,
    seconds,
    failed: failures.length,
    failures: failures.slice(0, 20),
    // On this process's clock, for `fanOut`'s `window`.
    startedAt: started,
    endedAt: performance.now(),
  };
}

/**
 * One message a second in every room for `seconds`, sent by the socket `senders[room]`, the rooms' sends spread
 * evenly over each second; resolves once every socket has received every message of its room (or GRACE_MS after
 * the last send). Each delivery is checked: the room's, from the sender's user, a user message, the text sent,
 * each message once and in order. With `window` ({from, to} on this process's clock), the p99 of the messages
 * sent within it and of the others are given apart.
 */
function fanOut({ tag, seconds, senders, window = { from: Infinity, to: -Infinity } }) {
  const rooms = senders.length;
  const members = new Array(rooms).fill(0);
  for (const client of sockets) {
    members[client.roomIndex]++;
    client.last = -1;
  }
  const senderIds = senders.map((i) => sockets[i].userId);
  const sentAt = new Map();
  const latencies = [];
  const inWindow = [];
  const outOfWindow = [];
  /** The latencies of each second's messages: when in the run the slow ones were sent. */
  const bySecond = Array.from({ length: seconds }, () => []);
  const acks = [];
  const sentPerRoom = new Array(rooms).fill(0);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const state = {
    sent: 0,
    expected: 0,
    received: 0,
    repeated: 0,
    invalid: 0,
    replies: 0,
    frameBytes: new Set(),
    sentFrameBytes: new Set(),
    sendLateMs: 0,
  };
  return new Promise((resolve) => {
    let graceTimer;
    let sending = true;
    const finish = () => {
      clearTimeout(graceTimer);
      loop.disable();
      const { frames, errors, closed } = run;
      run = null;
      resolve({
        tag,
        seconds,
        sent: state.sent,
        expected: state.expected,
        received: state.received,
        lost: state.expected - state.received,
        repeated: state.repeated,
        invalid: state.invalid,
        replies: state.replies,
        p50Ms: percentile(latencies, 50),
        p90Ms: percentile(latencies, 90),
        p99Ms: percentile(latencies, 99),
        p999Ms: percentile(latencies, 99.9),
        maxMs: latencies.reduce((a, b) => Math.max(a, b), -Infinity),
        p99BySecondMs: bySecond.map((list) => percentile(list, 99)),
        p99InWindowMs: percentile(inWindow, 99),
        p99OutOfWindowMs: percentile(outOfWindow, 99),
        startedAt: start,
        ackP50Ms: percentile(acks, 50),
        ackP99Ms: percentile(acks, 99),
        frameBytes: [...state.frameBytes],
        sentFrameBytes: [...state.sentFrameBytes],
        otherFrames: frames,
        errors,
        closed,
        sendLateMaxMs: state.sendLateMs,
        clientLoopP99Ms: loop.percentile(99) / 1e6,
        clientLoopMaxMs: loop.max / 1e6,
        sentPerRoom,
      });
    };
    const settle = () => !sending && state.received >= state.expected && finish();
    run = {
      frames: {},
      errors: {},
      closed: {},
      message(client, message, at, bytes) {
        const m = CONTENT.exec(message.content);
        if (!m || m[1] !== tag) return count(stray, 'message');
        if (message.role !== 'user') return state.replies++;
        const [room, seq, sent] = [Number(m[2]), Number(m[3]), Number(m[4])];
        const valid =
          room === client.roomIndex &&
          message.conversationId === client.room &&
          message.senderId === senderIds[room] &&
          message.status === 'complete' &&
          message.content === contentOf(tag, room, seq, sent);
        if (!valid) return state.invalid++;
        if (seq <= client.last) return state.repeated++;
        client.last = seq;
        state.received++;
        latencies.push(at - sent);
        bySecond[seq].push(at - sent);
        (sent >= window.from && sent < window.to ? inWindow : outOfWindow).push(at - sent);
        state.frameBytes.add(bytes);
        settle();
      },
      sent(ref, at, bytes) {
        const t = sentAt.get(ref);
        if (t === undefined) return count(run.frames, 'sent');
        sentAt.delete(ref);
        acks.push(at - t);
        state.sentFrameBytes.add(bytes);
      },
    };
    loop.enable();
    const step = 1000 / rooms;
    const total = rooms * seconds;
    const start = performance.now() + 20;
    let k = 0;
    const tick = () => {
      const now = performance.now();
      for (; k < total && start + k * step <= now; k++) {
        const room = k % rooms;
        const seq = Math.floor(k / rooms);
        const sender = sockets[senders[room]];
        const id = ++frameIds;
        const t = performance.now();
        state.sendLateMs = Math.max(state.sendLateMs, t - (start + k * step));
        const content = contentOf(tag, room, seq, t);
        sentAt.set(id, t);
        sender.ws.send(
          JSON.stringify({
            type: 'message',
            id,
            conversationId: sender.room,
            content,
            clientId: `${tag}-${sixDigits(room)}-${sixDigits(seq)}`,
          }),
        );
        state.sent++;
        sentPerRoom[room]++;
        state.expected += members[room];
      }
      if (k < total) return setTimeout(tick, Math.max(0, start + k * step - performance.now()));
      sending = false;
      graceTimer = setTimeout(finish, GRACE_MS);
      settle();
    };
    setTimeout(tick, start - performance.now());
  });
}

/** Closes every socket and waits for the closes (a socket that does not close in time is cut). */
async function closeAll() {
  const closing = sockets.map(
    (client) =>
      new Promise((resolve) => {
        if (client.ws.readyState === WebSocket.CLOSED) return resolve();
        const timer = setTimeout(() => client.ws.terminate(), CLOSE_TIMEOUT_MS);
        client.ws.once('close', () => resolve(clearTimeout(timer)));
        client.ws.close(1000);
      }),
  );
  await Promise.all(closing);
  const closed = sockets.length;
  sockets = [];
  return { closed, stray: { ...stray } };
}

const COMMANDS = { ping: () => 'pong', connect, fanOut, closeAll };

/**
 * Starts the load generator on `cpu` (see lib/cpu.js); `call(command, args)` runs one of its commands
 * (connect, fanOut, closeAll) and resolves to its result.
 */
export async function startWsClients({ cpu, layout }) {
  const [command, args] = layout.on(cpu, process.execPath, [SCRIPT]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const forget = atExit(() => child.kill('SIGKILL'));
  let output = '';
  const keep = (chunk) => (output = (output + chunk).slice(-4000));
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const pending = new Map();
  let calls = 0;
  child.on('message', ({ id, result, error }) => {
    const call = pending.get(id);
    pending.delete(id);
    if (error) call.reject(new Error(`ws clients: ${error}`));
    else call.resolve(result);
  });
  child.once('exit', (code, signal) => {
    for (const call of pending.values())
      call.reject(new Error(`the ws clients exited (code ${code}, signal ${signal})\n${output.trim()}`));
    pending.clear();
  });
  const call = (name, callArgs) =>
    new Promise((resolve, reject) => {
      const id = ++calls;
      pending.set(id, { resolve, reject });
      child.send({ id, command: name, args: callArgs });
    });
  await call('ping');
  return {
    pid: child.pid,
    call,
    async stop() {
      forget();
      child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on('message', async ({ id, command, args }) => {
    try {
      process.send({ id, result: await COMMANDS[command](args) });
    } catch (err) {
      process.send({ id, error: err.stack ?? String(err) });
    }
  });
  // The runner is gone: nothing more will be asked.
  process.on('disconnect', () => process.exit(0));
}
