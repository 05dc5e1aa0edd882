// persist(fileStore) with an outbox far past the default limit (maxMessages raised, as offline-first
// apps do): 150,000 messages queued while no server listens are saved, restored by the next client
// and delivered in order. Real file store in a temp directory, real ws server on loopback.
import { expect } from 'chai';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { persist, SteadySocket, type SteadySocketError } from '../../src/index';
import { fileStore } from '../../src/node';
import { eventually, freePort, startWsServer, tempDir, within, type WsServer } from './support';

const COUNT = 150_000;

describe('persist(fileStore) with 150,000 queued messages', function () {
  this.timeout(60_000);
  let dir: ReturnType<typeof tempDir>;
  let server: WsServer | undefined;
  const clients: { close(): Promise<void> }[] = [];

  beforeEach(() => (dir = tempDir('persist-large')));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => within(10_000, 'close()', client.close())));
    await server?.close();
    server = undefined;
    dir.remove();
  });

  it('saves them all while offline, and the next client restores and delivers them in order', async () => {
    const file = join(dir.path, 'outbox.json');
    // Nothing listens on this port: every attempt fails, and the client waits a minute between them.
    const url = `ws://127.0.0.1:${await freePort()}/`;
    const options = { maxMessages: 200_000, maxBytes: 64 * 1024 * 1024, minDelay: 60_000 };
    const first = persist(fileStore(file));
    const offline = new SteadySocket(url, { ...options, use: [first] });
    clients.push(offline);
    const errors: string[] = [];
    offline.on('error', (error: SteadySocketError) => errors.push(error.code));
    await first.restored;
    for (let i = 0; i < COUNT; i++) offline.send(`m${i}`);
    // Before: the snapshot spread the outbox into push()'s arguments, past what a call can take
    // (RangeError), and every save failed with STORAGE_FAILED.
    await within(20_000, 'saved()', first.saved());
    expect(errors.filter((code) => code !== 'CONNECT_FAILED'), 'errors other than the refused attempts').to.deep.equal([]);
    expect(fileStore(file).loadSync().length, 'messages in the file').to.equal(COUNT);
    // The process ends here as a crash would: the next run finds the file as it is now. (close()
    // would drop the messages, and the store would follow.)
    const crashed = join(dir.path, 'after-crash.json');
    copyFileSync(file, crashed);
    await offline.close();
    clients.length = 0;

    server = await startWsServer({ onConnection: () => {} });
    const next = persist(fileStore(crashed));
    const online = new SteadySocket(server.url, { ...options, use: [next] });
    clients.push(online);
    await within(30_000, 'flushed()', online.flushed());
    await eventually(20_000, 'the server to get every message', () => server!.connections[0]?.messages.length === COUNT);
    const received = server.connections[0].messages;
    expect(received[0]).to.equal('m0');
    expect(received.every((message, i) => message === `m${i}`), 'in order, each once').to.equal(true);
    await within(10_000, 'saved()', next.saved());
    expect(fileStore(crashed).loadSync(), 'nothing left to send again').to.deep.equal([]);
  });
});
