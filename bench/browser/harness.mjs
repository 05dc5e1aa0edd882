// Runs in Chromium. One page measures one client: the native WebSocket, steadysocket's IIFE bundle,
// reconnecting-websocket's IIFE bundle or partysocket's ESM build, each used as its README shows.
// The harness drives it through `window.bench` (page.evaluate) and reads the renderer's
// main-thread CPU over CDP around `bench.run`.

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

let socket;
let onData = () => {};

globalThis.bench = {
  async connect(client, url) {
    const create = await loaders[client]();
    const connection = create(url, (data) => onData(data));
    socket = connection.socket;
    await connection.opened;
  },

  /** `window` messages in flight; every reply sends the next until `total` have come back. */
  run(total, window) {
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
    socket.close();
  },
};
