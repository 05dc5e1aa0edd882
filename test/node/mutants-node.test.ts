// Gaps found by mutation testing src/node.ts that need real sockets on loopback: what the proxy
// agent does with a headers function's answer, with a request given up before its CONNECT, and
// with the request's listeners once the tunnel is up.
import { expect } from 'chai';
import { request, createServer as createHttpServer, type ClientRequest, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createProxyAgent } from '../../src/node';
import { eventually, freePort, within } from './support';

/** A loopback "proxy": silent, or (`tunnel`) answering each CONNECT with 200 and piping to its target. */
async function loopbackProxy(tunnel: boolean): Promise<{ url: string; sockets: { closed: boolean; read: string }[]; close(): Promise<void> }> {
  const sockets: { socket: Socket; closed: boolean; read: string }[] = [];
  const server: Server = createServer((socket) => {
    const entry = { socket, closed: false, read: '' };
    sockets.push(entry);
    socket.on('error', () => {});
    socket.on('close', () => (entry.closed = true));
    const onData = (chunk: Buffer) => {
      entry.read += chunk.toString('latin1');
      const target = /^CONNECT 127\.0\.0\.1:(\d+) /.exec(entry.read);
      if (!tunnel || !target || !entry.read.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const upstream = connect(Number(target[1]), '127.0.0.1', () => {
        socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
        socket.pipe(upstream).pipe(socket);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sockets,
    close: async () => {
      for (const { socket } of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The error of a GET through `agent` to 127.0.0.1:`port`. */
function failure(agent: ReturnType<typeof createProxyAgent>, port: number): Promise<Error> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent }, () => reject(new Error('a response')));
    req.once('error', resolve);
  });
}

describe('mutation gaps: steadysocket/node proxy agent on loopback', function () {
  this.timeout(20_000);

  it('a headers function that answers no object (null, text, a number) fails the request before any socket to the proxy is opened', async () => {
    const proxyPort = await freePort(); // nothing listens: a CONNECT attempt would be refused instead
    for (const answer of [null, 'X-Tok: t', 42]) {
      const agent = createProxyAgent(`http://127.0.0.1:${proxyPort}`, { headers: () => answer as never });
      const error = await within(5_000, `the request with ${String(answer)}`, failure(agent, 9));
      expect(error, String(answer)).to.be.instanceOf(TypeError);
      expect(error.message, String(answer)).to.equal('Invalid proxy headers: the headers function must return an object.');
    }
  });

  it('a request destroyed before the agent connects it opens no socket to the proxy that stays open', async () => {
    const proxy = await loopbackProxy(false);
    try {
      const agent = createProxyAgent(proxy.url);
      const given = request({ host: '127.0.0.1', port: 9, path: '/given-up', agent });
      given.on('error', () => {});
      given.destroy(); // before the agent's connect(), which runs a microtask later
      // A second request, kept, shows how far the agent has come.
      const kept = request({ host: '127.0.0.1', port: 10, path: '/kept', agent });
      kept.on('error', () => {});
      try {
        await eventually(5_000, 'the kept request reaches the proxy', () => proxy.sockets.some((s) => s.read.startsWith('CONNECT 127.0.0.1:10 ')));
        await eventually(2_000, 'no other socket to the proxy open', () => proxy.sockets.every((s) => s.closed || s.read.startsWith('CONNECT 127.0.0.1:10 ')));
      } finally {
        kept.destroy();
      }
    } finally {
      await proxy.close();
    }
  });

  it('once the tunnel is up, the request keeps none of the listeners that abort the socket to the proxy', async () => {
    const proxy = await loopbackProxy(true);
    const target: HttpServer = createHttpServer((_, response) => response.end('through'));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', () => resolve()));
    try {
      const agent = createProxyAgent(proxy.url);
      let req: ClientRequest | undefined;
      const body = await within(
        5_000,
        'the response through the tunnel',
        new Promise<string>((resolve, reject) => {
          req = request({ host: '127.0.0.1', port: (target.address() as AddressInfo).port, path: '/', agent }, (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () => resolve(text));
          });
          req.on('error', reject);
          req.end();
        }),
      );
      expect(body).to.equal('through');
      expect(req!.listenerCount('abort')).to.equal(0);
      expect(req!.listeners('close').map((listener) => listener.name)).to.not.include('abort');
    } finally {
      await proxy.close();
      await new Promise<void>((resolve) => target.close(() => resolve()));
    }
  });
});
