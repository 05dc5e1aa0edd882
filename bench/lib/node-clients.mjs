// The clients compared in Node, each used the way its README shows, over the same `ws` transport.
//
// `create(url, onData, options)` returns the library's own object and registers one message
// listener that hands the payload (a string for text frames, the binaryType's object for binary
// ones) to `onData`; the measures call that object's `send` directly. `opened`, `failed` and
// `close` are separate functions so that the harness keeps nothing per connection beyond the
// library's object (the memory measure counts every byte on the heap).
import WebSocket from 'ws';
import ReconnectingWebSocket from 'reconnecting-websocket';
import PartySocket from 'partysocket/ws';

const distPath = process.env.STEADYSOCKET_DIST ?? new URL('../../dist/index.js', import.meta.url).href;
const { SteadySocket, acks, json, requests } = await import(distPath);

/**
 * Backoff for "reconnect quickly" (flush) and "wait a long time" (exit while waiting). Each
 * library spells it differently; the values mean the same thing.
 */
const RETRY = {
  fast: {
    steadysocket: { minDelay: 10, maxDelay: 10, jitter: 0 },
    rws: { minReconnectionDelay: 10, maxReconnectionDelay: 10, reconnectionDelayGrowFactor: 1 },
  },
  slow: {
    steadysocket: { minDelay: 5000, maxDelay: 5000, jitter: 0 },
    rws: { minReconnectionDelay: 5000, maxReconnectionDelay: 5000, reconnectionDelayGrowFactor: 1 },
  },
};

const ignore = () => {};
const CLOSED = 3;

const event = (target, name) => new Promise((resolve) => target.addEventListener(name, () => resolve(), { once: true }));
// Not events.once(): that rejects on an 'error' event, and failing is what `failed` waits for.
const once = (emitter, name) => new Promise((resolve) => emitter.once(name, () => resolve()));

/** The reconnecting-websocket API, shared by reconnecting-websocket and partysocket. */
const reconnecting = (Class) => ({
  create(url, onData, { binaryType = 'arraybuffer', retry } = {}) {
    const socket = new Class(url, [], { WebSocket, ...(retry && RETRY[retry].rws) });
    socket.binaryType = binaryType;
    socket.addEventListener('message', (message) => onData(message.data));
    socket.addEventListener('error', ignore);
    return socket;
  },
  opened: (socket) => event(socket, 'open'),
  failed: (socket) => event(socket, 'close'),
  close(socket) {
    if (socket.readyState === CLOSED) return socket.close(), Promise.resolve();
    const closed = event(socket, 'close');
    socket.close();
    return closed;
  },
});

export const clients = {
  /** The baseline: ws's own EventEmitter API, text turned into a string as every wrapper does. */
  raw: {
    create(url, onData, { binaryType = 'arraybuffer' } = {}) {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.binaryType = binaryType;
      ws.on('message', (data, isBinary) => onData(isBinary ? data : data.toString()));
      ws.on('error', ignore);
      return ws;
    },
    opened: (ws) => once(ws, 'open'),
    failed: (ws) => (ws.readyState === CLOSED ? Promise.resolve() : once(ws, 'close')),
    close(ws) {
      if (ws.readyState === CLOSED) return Promise.resolve();
      const closed = once(ws, 'close');
      ws.close();
      return closed;
    },
  },

  steadysocket: {
    create(url, onData, { binaryType = 'arraybuffer', retry, options } = {}) {
      const socket = new SteadySocket(url, { binaryType, ...(retry && RETRY[retry].steadysocket), ...options });
      socket.on('message', onData);
      socket.on('error', ignore);
      return socket;
    },
    opened: (socket) => once(socket, 'open'),
    failed: (socket) => once(socket, 'reconnecting'),
    close: (socket) => socket.close(),
  },

  rws: reconnecting(ReconnectingWebSocket),
  partysocket: reconnecting(PartySocket),

  /** steadysocket with the json codec: the baseline of the acks measure. */
  json: withOptions(() => ({ codec: json() })),

  /** The same with acks(): the echo of a message is its acknowledgement (consumed by the feature, which hands it on). */
  acks: withOptions((onData) => ({
    codec: json(),
    use: [acks({ id: (message) => message.id, ack: (message) => (onData(message), message.id) })],
  })),
};

/** The steadysocket client with options made per socket (they may need its onData). */
function withOptions(makeOptions) {
  // Lazy: called while `clients` is still being built.
  const base = () => clients.steadysocket;
  return {
    create: (url, onData) => base().create(url, onData, { options: makeOptions(onData) }),
    opened: (socket) => base().opened(socket),
    failed: (socket) => base().failed(socket),
    close: (socket) => base().close(socket),
  };
}

/**
 * Request/reply over the echo server: a request `{ id, request }` comes back unchanged, and its
 * echo is the reply. `request(data)` returns a promise of the reply's `request` field.
 */
export const rpcClients = {
  /** Hand-written correlation over raw ws: a Map of pending ids, JSON both ways. */
  raw: {
    create(url) {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const pending = new Map();
      let nextId = 0;
      ws.on('message', (data) => {
        const message = JSON.parse(data.toString());
        const resolve = pending.get(message.id);
        pending.delete(message.id);
        resolve?.(message.request);
      });
      ws.on('error', ignore);
      ws.request = (data) =>
        new Promise((resolve) => {
          const id = ++nextId;
          pending.set(id, resolve);
          ws.send(JSON.stringify({ id, request: data }));
        });
      return ws;
    },
    opened: (ws) => once(ws, 'open'),
    close: (ws) => clients.raw.close(ws),
  },
  /** steadysocket's requests() feature with a match function for the echo. */
  steadysocket: {
    create(url) {
      const rpc = requests({ match: (message) => ({ id: message.id, result: message.request }) });
      const socket = new SteadySocket(url, { codec: json(), use: [rpc] });
      socket.on('error', ignore);
      socket.request = (data) => rpc.request(data);
      return socket;
    },
    opened: (socket) => once(socket, 'open'),
    close: (socket) => socket.close(),
  },
};

/** Installed versions of the transport and the comparison libraries. */
export async function versions() {
  const { readFile } = await import('node:fs/promises');
  const version = async (name) =>
    JSON.parse(await readFile(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
  const names = ['ws', 'reconnecting-websocket', 'partysocket'];
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await version(name)])));
}
