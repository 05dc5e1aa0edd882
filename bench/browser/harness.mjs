// Runs in Chromium. One page per round holds one socket per client — the native WebSocket,
// steadysocket's IIFE bundle, reconnecting-websocket's IIFE bundle, partysocket's ESM build, each
// used as its README shows — and runs them one after another, so every client of a round shares a
// renderer process. The harness drives it through `globalThis.bench` (Runtime.evaluate) and reads
// the renderer's main-thread CPU over CDP around each `bench.run`. Only one socket has traffic at
// a time; the others sit idle and open.

/** 32 bytes of text, as in the Node measure. */
const TEXT_32 = '{"type":"tick","seq":1234567890}';

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

const event = (target, name) => new Promise((resolve) => target.addEventListener(name, resolve, { once: true }));

const loaders = {
  async native() {
    return (url, onData) => {
      const socket = new WebSocket(url);
      socket.binaryType = 'arraybuffer';
      socket.addEventListener('message', (message) => onData(message.data));
      return { socket, opened: event(socket, 'open') };
    };
  },
  async steadysocket() {
    await loadScript('/dist/steadysocket.min.js');
    const { SteadySocket } = globalThis;
    return (url, onData) => {
      const socket = new SteadySocket(url);
      socket.on('message', onData);
      return { socket, opened: new Promise((resolve) => socket.once('open', resolve)) };
    };
  },
  async rws() {
    await loadScript('/node_modules/reconnecting-websocket/dist/reconnecting-websocket-iife.min.js');
    return reconnecting(globalThis.ReconnectingWebSocket);
  },
  async partysocket() {
    const { default: ReconnectingWebSocket } = await import('/node_modules/partysocket/dist/ws.js');
    return reconnecting(ReconnectingWebSocket);
  },
};

function reconnecting(Class) {
  return (url, onData) => {
    const socket = new Class(url);
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('message', (message) => onData(message.data));
    return { socket, opened: event(socket, 'open') };
  };
}

const sockets = {};
const loaded = {};
let onData = () => {};

globalThis.bench = {
  /** Opens a socket of library `client` under the name `id` (e.g. 'native2' for the A/A twin). */
  async connect(id, client, url) {
    loaded[client] ??= loaders[client]();
    const create = await loaded[client];
    const connection = create(url, (data) => onData(data));
    sockets[id] = connection.socket;
    await connection.opened;
  },

  /** On socket `id`, `window` messages in flight; every reply sends the next until `total` came back. */
  run(id, total, window) {
    const socket = sockets[id];
    return new Promise((resolve) => {
      let sent = 0;
      let received = 0;
      let bytes = 0;
      const t0 = performance.now();
      onData = (data) => {
        received++;
        bytes += typeof data === 'string' ? data.length : data.byteLength;
        if (sent < total) {
          sent++;
          socket.send(TEXT_32);
        } else if (received === total) resolve({ wallMs: performance.now() - t0, bytes });
      };
      const first = Math.min(window, total);
      while (sent < first) {
        sent++;
        socket.send(TEXT_32);
      }
    });
  },

  close() {
    for (const socket of Object.values(sockets)) socket.close();
  },
};
