// Review 3 of the persistent outbox: persist() with a real fileStore in a temp directory and a real
// ws server on loopback.
import { expect } from 'chai';
import { join } from 'node:path';
import { acks, json, persist, SteadySocket } from '../../src/index';
import { fileStore, type FileStore } from '../../src/node';
import { eventually, startWsServer, tempDir, within, type WsServer } from './support';

/** A real file store whose saveSync() calls are counted. */
function countedStore(path: string): FileStore & { syncSaves: number } {
  const store = fileStore(path) as FileStore & { syncSaves: number };
  const saveSync = store.saveSync.bind(store);
  store.syncSaves = 0;
  store.saveSync = (messages) => {
    store.syncSaves++;
    saveSync(messages);
  };
  return store;
}

describe('review 3: persist(fileStore, { sync: true }) with a real server', function () {
  this.timeout(30_000);
  let dir: ReturnType<typeof tempDir>;
  let server: WsServer | undefined;
  const clients: { close(): Promise<void> }[] = [];

  beforeEach(() => (dir = tempDir('review-store-3')));
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => within(5_000, 'close()', client.close())));
    await server?.close();
    server = undefined;
    dir.remove();
  });

  const backlog = (n: number) => Array.from({ length: n }, (_, i) => ({ data: `message ${i} ${'x'.repeat(100)}` }));

  it('writes a restored backlog with one save per turn, not one save of the whole file per message', async () => {
    // Before: each message written saved the whole file again (a blocking write and fsync): 300
    // saves for 300 messages, quadratic in bytes; 2,000 blocked the event loop for 16 s.
    const file = join(dir.path, 'outbox.json');
    fileStore(file).saveSync(backlog(300));
    server = await startWsServer({ onConnection: () => {} });
    const store = countedStore(file);
    const client = new SteadySocket(server.url, { use: [persist(store, { sync: true })] });
    clients.push(client);
    await within(10_000, 'flushed()', client.flushed());
    await eventually(10_000, 'the server to get the backlog', () => server!.connections[0]?.messages.length === 300);
    expect(server.connections[0].messages, 'in order').to.deep.equal(backlog(300).map((m) => m.data));
    expect(store.syncSaves, 'saves while flushing 300 messages').to.be.at.most(3);
    expect(fileStore(file).loadSync(), 'nothing left to send again').to.deep.equal([]);
  });

  it('close() saves what it dropped once, and before it resolves', async () => {
    // Before: one save per message dropped (100 fsyncs of the file).
    const file = join(dir.path, 'outbox.json');
    const store = countedStore(file);
    const client = new SteadySocket('ws://127.0.0.1:9/refused', { minDelay: 1000, use: [persist(store, { sync: true })] });
    client.on('error', () => {});
    for (const { data } of backlog(100)) client.send(data);
    expect(fileStore(file).loadSync(), 'each send() on disk before it returned').to.have.length(100);
    const before = store.syncSaves;
    await within(5_000, 'close()', client.close());
    expect(store.syncSaves - before, 'saves of close()').to.equal(1);
    expect(fileStore(file).loadSync(), 'the next run sends nothing close() dropped').to.deep.equal([]);
  });

  it('with acks(): a message send() writes at once is on disk before send() returns, and leaves once acknowledged', async () => {
    const file = join(dir.path, 'outbox.json');
    let ackNow: (id: number) => void = () => {};
    server = await startWsServer({ onConnection: ({ socket }) => (ackNow = (id) => socket.send(JSON.stringify({ ack: id }))) });
    type Message = { id?: number; ack?: number };
    const client = new SteadySocket<Message, Message>(server.url, {
      codec: json(),
      use: [acks<Message, Message>({ id: (m) => m.id, ack: (m) => m.ack }), persist(fileStore(file), { sync: true })],
    });
    clients.push(client);
    await within(5_000, 'open', new Promise((resolve) => client.once('open', resolve)));
    for (let id = 1; id <= 3; id++) {
      client.send({ id });
      expect(fileStore(file).loadSync().map((m) => m.data), `after send() of ${id}`).to.include(JSON.stringify({ id }));
    }
    ackNow(1);
    ackNow(2);
    await eventually(5_000, 'the acknowledged ones to leave the file', () => fileStore(file).loadSync().length === 1);
    expect(fileStore(file).loadSync().map((m) => m.data)).to.deep.equal([JSON.stringify({ id: 3 })]);
  });
});
