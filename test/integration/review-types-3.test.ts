// Review 3 of the typings: the payloads of close, reconnecting, open, drop, error and message
// events from real ws servers on 127.0.0.1, against the declared types. Every own key of a
// payload must be declared, of the declared kind; a key present with `undefined` only where the
// declaration says `| undefined` (what exactOptionalPropertyTypes users rely on).
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { json, SteadySocket, SteadySocketError, type CloseInfo, type DropInfo, type OpenInfo, type ReconnectingInfo } from '../../src/index';
import { until } from '../support/servers';

/** A declared key: its typeof (or 'error' for a SteadySocketError), optional or not, undefined allowed or not. */
type Kind = { type: 'number' | 'string' | 'boolean' | 'object' | 'error' | 'any'; optional?: true; undef?: true };
/** The declaration of `T`, key by key (`satisfies` keeps each table to the type's keys). */
type Shape<T> = { [K in keyof Required<T>]: Kind };

const CLOSE = {
  code: { type: 'number' },
  reason: { type: 'string' },
  wasClean: { type: 'boolean' },
  attempt: { type: 'number' },
  error: { type: 'error', optional: true, undef: true },
  status: { type: 'number', optional: true, undef: true },
} satisfies Shape<CloseInfo>;
const OPEN = { url: { type: 'string' }, protocol: { type: 'string' }, attempt: { type: 'number' } } satisfies Shape<OpenInfo>;
const RECONNECTING = { attempt: { type: 'number' }, delay: { type: 'number' }, offline: { type: 'boolean' }, cause: { type: 'object' } } satisfies Shape<ReconnectingInfo>;
const DROP = { data: { type: 'any' }, reason: { type: 'string' }, error: { type: 'error' } } satisfies Shape<DropInfo<unknown>>;

/** What in `payload` differs from `shape`, as readable lines. */
function mismatches(what: string, payload: object, shape: Record<string, Kind>): string[] {
  const found: string[] = [];
  for (const [key, value] of Object.entries(payload)) {
    const kind = shape[key];
    if (!kind) found.push(`${what}.${key} is not declared`);
    else if (value === undefined) {
      if (!kind.undef) found.push(`${what}.${key} is there, undefined, but declared without | undefined`);
    } else if (kind.type === 'error' ? !(value instanceof SteadySocketError) : kind.type !== 'any' && typeof value !== kind.type) {
      found.push(`${what}.${key} is a ${typeof value}, declared ${kind.type}`);
    }
  }
  for (const [key, kind] of Object.entries(shape)) if (!kind.optional && !(key in payload)) found.push(`${what}.${key} is missing`);
  return found;
}

describe('typings review 3: event payloads from real ws servers match the declared types', () => {
  let http: Server;
  let wss: WebSocketServer;
  let base: string;
  const clients: SteadySocket<any, any>[] = [];

  before(async () => {
    http = createServer();
    wss = new WebSocketServer({ noServer: true });
    let connections = 0;
    http.on('upgrade', (request, socket, head) => {
      if (request.url === '/deny') {
        socket.end('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        ws.on('error', () => {});
        // The first connection says hello and closes with 4000; the next ones stay.
        if (connections++ === 0) {
          ws.send(JSON.stringify({ type: 'hello', n: 1 }));
          setTimeout(() => ws.close(4000, 'bye'), 30);
        }
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    base = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeAllConnections();
  });

  it('open, message, close (4000 and a rejected handshake), reconnecting, drop and error', async () => {
    const seen: { event: string; payload: unknown }[] = [];
    const record = (client: SteadySocket<any, any>, name: string) => {
      for (const event of ['open', 'message', 'close', 'reconnecting', 'drop', 'error'] as const) {
        client.on(event, (payload: unknown) => void seen.push({ event: `${name}.${event}`, payload }));
      }
    };
    const ok = new SteadySocket(`${base}/ok`, { codec: json<{ type: 'hello'; n: number }, string>(), minDelay: 20, maxDelay: 50, jitter: 0 });
    const denied = new SteadySocket(`${base}/deny`, { minDelay: 20, maxDelay: 50, jitter: 0 });
    clients.push(ok, denied);
    record(ok, 'ok');
    record(denied, 'denied');
    denied.deliver('x').catch(() => {});
    await until(() => seen.filter((s) => s.event === 'ok.open').length >= 2 && seen.some((s) => s.event === 'denied.drop'), 5000, 'both clients through their scenario');

    const problems = seen.flatMap(({ event, payload }) => {
      const name = event.split('.')[1];
      if (name === 'message') return [];
      if (name === 'error') return payload instanceof SteadySocketError ? [] : [`${event} is no SteadySocketError`];
      const shape = { open: OPEN, close: CLOSE, reconnecting: RECONNECTING, drop: DROP }[name]!;
      const inner = name === 'reconnecting' ? mismatches(`${event}.cause`, (payload as ReconnectingInfo).cause, CLOSE) : [];
      return [...mismatches(event, payload as object, shape), ...inner];
    });
    expect(problems).to.deep.equal([]);
    // The scenario happened: a close without an error (whose keys are there, undefined), a rejected
    // handshake with its status, a decoded message.
    const closes = seen.filter((s) => s.event === 'ok.close').map((s) => s.payload as CloseInfo);
    expect(closes[0]).to.include({ code: 4000, reason: 'bye' });
    expect(Object.keys(closes[0])).to.include.members(['error', 'status']);
    const deniedClose = seen.find((s) => s.event === 'denied.close')!.payload as CloseInfo;
    expect(deniedClose.status).to.equal(401);
    expect(deniedClose.error?.code).to.equal('HANDSHAKE_REJECTED');
    expect(seen.find((s) => s.event === 'ok.message')?.payload).to.deep.equal({ type: 'hello', n: 1 });
  });
});
