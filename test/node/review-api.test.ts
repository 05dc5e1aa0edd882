// Review of the API reference (TSDoc): what a Node client shows of itself to loggers, in the
// source and in the built Node entries (dist/index.js, dist/index.cjs), over a real ws connection
// on 127.0.0.1. Every server and client is closed.
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { expect } from 'chai';
import { WebSocketServer } from 'ws';
import * as source from '../../src/index';

const root = new URL('../../', import.meta.url);
const SECRETS = ['zqPasswordSecret', 'zqQueryToken77', 'zqHeaderSecret99'];

describe('API reference (TSDoc), reviewed in Node: JSON.stringify and util.inspect of a client', () => {
  let wss: WebSocketServer;
  let port: number;
  before(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    port = (wss.address() as { port: number }).port;
  });
  after(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  const entries: [string, () => Promise<typeof source>][] = [
    ['src', async () => source],
    ['dist/index.js', async () => (await import(new URL('dist/index.js', root).href)) as typeof source],
    ['dist/index.cjs', async () => createRequire(import.meta.url)(new URL('dist/index.cjs', root).pathname) as typeof source],
  ];

  for (const [name, load] of entries) {
    it(`${name}: shows state, the URL redacted, protocol and queued count, never a secret, while connecting, open and closed`, async () => {
      const { SteadySocket } = await load();
      const socket = new SteadySocket(`ws://me:zqPasswordSecret@127.0.0.1:${port}/feed?token=zqQueryToken77`, {
        headers: { authorization: 'Bearer zqHeaderSecret99' },
      });
      try {
        socket.on('error', () => {});
        const shown: string[] = [];
        const show = () => {
          const text = JSON.stringify({ socket });
          shown.push(text, inspect(socket, { depth: Infinity }));
          return JSON.parse(text).socket;
        };
        expect(show()).to.deep.equal({ state: 'connecting', url: `ws://***:***@127.0.0.1:${port}/feed?token=***`, protocol: '', queued: 0 });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('not open within 3 s')), 3000);
          socket.once('open', () => (clearTimeout(timer), resolve()));
        });
        socket.send('a');
        expect(show()).to.include({ state: 'open' });
        await socket.close();
        expect(show()).to.include({ state: 'closed' });
        for (const text of shown) for (const secret of SECRETS) expect(text).to.not.include(secret);
      } finally {
        await socket.close();
      }
    });
  }

  it('maxPayload: 0 is no limit (as in ws): a 100,000-byte message arrives', async () => {
    const big = 'x'.repeat(100_000);
    const onConnection = (socket: import('ws').WebSocket) => socket.send(big);
    wss.on('connection', onConnection);
    const socket = new source.SteadySocket(`ws://127.0.0.1:${port}/`, { maxPayload: 0, maxRetries: 0 });
    try {
      const errors: string[] = [];
      socket.on('error', (error) => errors.push(error.code));
      const got = await new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message within 3 s')), 3000);
        socket.once('message', (data) => (clearTimeout(timer), resolve(data)));
      });
      expect(String(got).length).to.equal(100_000);
      expect(errors).to.deep.equal([]);
    } finally {
      wss.off('connection', onConnection);
      await socket.close();
    }
  });
});
