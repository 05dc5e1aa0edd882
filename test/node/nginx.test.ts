import { expect } from 'chai';
import { SteadySocket, stats, type CloseInfo, type SteadySocketError, type SteadySocketOptions } from '../../src/index';
import { needTools } from '../support/tools';
import { eventually, sleep, startNginx, startWsServer, upgradeRequired, within, type Nginx, type WsServer } from './support';

describe('SteadySocket behind nginx as a reverse proxy', function () {
  this.timeout(30_000);
  let upstream: WsServer;
  let nginx: Nginx;
  const sockets: SteadySocket[] = [];

  before(async function () {
    needTools(this, 'nginx');
    upstream = await startWsServer({
      onConnection: ({ socket }) =>
        socket.on('message', (data, isBinary) => {
          if (!isBinary && data.toString() === 'close with 4001') socket.close(4001, 'asked to go');
          else socket.send(data, { binary: isBinary });
        }),
      // Plain GETs: /plain/page is an app page (200), everything else gets ws's 426.
      onPlainRequest: (request, response) => {
        if (request.url === '/plain/page') response.end('<!doctype html><title>app</title>');
        else upgradeRequired(request, response);
      },
    });
    nginx = await startNginx(upstream.port);
  });

  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  });

  after(async () => {
    await Promise.all([nginx?.stop(), upstream?.close()]);
  });

  function client(url: string, options: SteadySocketOptions = {}): SteadySocket {
    const socket = new SteadySocket(url, options);
    socket.on('error', () => {});
    sockets.push(socket);
    return socket;
  }

  const closedState = (socket: SteadySocket) =>
    new Promise<void>((resolve) => socket.on('state', (state) => state === 'closed' && resolve()));

  it("with the Upgrade/Connection headers: 200 echo round trips, then the server's close code 4001 arrives", async () => {
    const socket = client(`${nginx.origin}/ws/echo`, { minDelay: 5000 });
    for (let i = 0; i < 200; i++) {
      const echoed = within(2000, `echo ${i}`, new Promise((resolve) => socket.once('message', resolve)));
      socket.send(`round trip ${i}`);
      expect(await echoed).to.equal(`round trip ${i}`);
    }
    expect(upstream.connections).to.have.length(1);
    const { request, messages } = upstream.connections[0];
    expect(messages).to.have.length(200);
    // Through nginx: Host is nginx's address ($http_host), not the upstream's own port.
    expect(request.url).to.equal('/ws/echo');
    expect(request.headers.host).to.equal(`127.0.0.1:${nginx.port}`);

    const closed = within(5000, 'the close event', new Promise<CloseInfo>((resolve) => socket.once('close', resolve)));
    socket.send('close with 4001');
    const info = await closed;
    expect(info).to.include({ code: 4001, reason: 'asked to go', wasClean: true });
    await eventually(2000, 'nginx to log the upgraded request', () => / "GET \/ws\/echo HTTP\/1\.1" 101 /.test(nginx.accessLog()));
  });

  it('without them, to a ws server: 426 arrives fast as HANDSHAKE_REJECTED, and with maxRetries 0 the client stops at once', async () => {
    const before = upstream.connections.length;
    const started = Date.now();
    const counters = stats();
    const socket = client(`${nginx.origin}/plain/echo`, { minDelay: 50, maxDelay: 50, maxRetries: 0, use: [counters] });
    const errors: SteadySocketError[] = [];
    socket.on('error', (error) => errors.push(error));
    await within(3000, 'the client to give up', closedState(socket));
    const elapsed = Date.now() - started;

    expect(errors.map((error) => error.code)).to.deep.equal(['HANDSHAKE_REJECTED', 'RETRIES_EXHAUSTED']);
    expect(errors[0].status).to.equal(426);
    expect(errors[0].message).to.match(/HTTP 426/);
    expect(elapsed, 'ms to fail').to.be.below(3000);
    // No WebSocket ever reached the upstream.
    await sleep(300);
    expect(counters.snapshot().attempts).to.equal(1);
    expect(upstream.connections.length).to.equal(before);
    expect(nginx.accessLog()).to.match(/ "GET \/plain\/echo HTTP\/1\.1" 426 /);
  });

  it('without them, to an app that answers the GET with a page: HANDSHAKE_REJECTED with status 200, fast', async () => {
    const started = Date.now();
    const counters = stats();
    const socket = client(`${nginx.origin}/plain/page`, { minDelay: 200, maxDelay: 200, jitter: 0, use: [counters] });
    const errors: SteadySocketError[] = [];
    socket.on('error', (error) => errors.push(error));
    const first = await within(3000, 'the first error', new Promise<SteadySocketError>((resolve) => socket.once('error', resolve)));
    expect(Date.now() - started, 'ms to fail').to.be.below(3000);
    expect(first.code).to.equal('HANDSHAKE_REJECTED');
    expect(first.status).to.equal(200);
    expect(socket.state).not.to.equal('open');
    // 200 is not in the stop list: the default policy retries with backoff, each attempt failing the same way.
    await eventually(3000, 'a second attempt', () => counters.snapshot().attempts >= 2 && errors.length >= 2);
    expect(errors.every((error) => error.code === 'HANDSHAKE_REJECTED' && error.status === 200)).to.equal(true);
  });
});
