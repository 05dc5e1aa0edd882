// Review 3 of the published typings (dist/*.d.ts) against what the runtime accepts and refuses:
// a feature fits a client only if it takes every message the client gives it, and options the
// runtime refuses with INVALID_OPTION / INVALID_MESSAGE (heartbeat's ping without isPong,
// persist's sync with a store that cannot save synchronously, requests()' default envelope on a
// client that cannot send it) do not compile. Each negative line carries `@ts-expect-error`: a
// line that compiles fails the check as an unused directive.
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type ts from 'typescript';
import current from 'typescript';
import { typeCheck, type CheckWith, type Snippet } from '../docs/snippets';

const root = fileURLToPath(new URL('../../', import.meta.url));
const oldest = createRequire(new URL('../../compat/typescript-oldest/package.json', import.meta.url))('typescript') as typeof ts;
const compilers: [string, typeof ts][] = [
  [`TypeScript ${oldest.version} (the oldest the README names)`, oldest],
  [`TypeScript ${current.version}`, current],
];

/** Problems of `code`, compiled as a consumer against dist/, as "line: message". */
function problems(code: string, options: ts.CompilerOptions = {}, compiler: typeof ts = current): string[] {
  const snippet: Snippet = { file: 'test/package/typings-review-3.test.ts', line: 1, lang: 'ts', code };
  const dir = mkdtempSync(join(tmpdir(), 'steadysocket-typings-'));
  try {
    const using: CheckWith = { compiler, against: 'dist', options };
    const results = typeCheck(root, dir, [snippet], (path, text) => writeFileSync(path, text), using);
    return [...results.values()].flat().map((d) => `${d.line}: ${d.message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TYPES = `
  type In = { type: 'pong' } | { type: 'reply'; re: number };
  type Out = { type: 'ping' } | { type: 'order'; id: number };
`;

describe('typings review 3: dist/*.d.ts against what the runtime accepts', function () {
  this.timeout(180_000);

  before(function () {
    if (!existsSync(join(root, 'dist', 'index.d.ts'))) throw new Error('dist/index.d.ts is missing: run `npm run build` first.');
  });

  for (const [name, compiler] of compilers) {
    it(`a feature made apart fits a client only if it takes every message the client gives it, with ${name}`, () => {
      const code = `
        import { SteadySocket, json, heartbeat, acks } from 'steadysocket';
        ${TYPES}
        const codec = json<In, Out>();
        // isPong reads a field only some inbound messages have: it would be called with a reply too.
        const narrowPong = heartbeat<{ type: 'pong'; seq: number }, Out>({ interval: 1, timeout: 1, ping: () => ({ type: 'ping' }), isPong: (m) => m.seq > 0 });
        // @ts-expect-error the client also receives replies, which have no seq
        new SteadySocket('ws://127.0.0.1:1/', { codec, use: [narrowPong] });
        // acks() reads the id of every outgoing message, pings included.
        const narrowAcks = acks<In, { type: 'order'; id: number }>({ id: (m) => m.id, ack: (m) => (m.type === 'reply' ? m.re : undefined) });
        // @ts-expect-error the client also sends pings, which have no id
        new SteadySocket('ws://127.0.0.1:1/', { codec, use: [narrowAcks] });
        // acks() writes nothing of its own: one that reads a wider type fits (it read { id?: number } before).
        const wideAcks = acks<unknown, { id?: number }>({ id: (m) => m.id, ack: () => undefined });
        new SteadySocket('ws://127.0.0.1:1/', { codec: json<In, { id: number; text: string }>(), use: [wideAcks] });
        // Made in place, a feature still takes the client's types.
        new SteadySocket('ws://127.0.0.1:1/', { codec, use: [acks({ id: (m) => (m.type === 'order' ? m.id : undefined), ack: (m) => (m.type === 'reply' ? m.re : undefined) })] });
        // @ts-expect-error made in place, its callbacks see the client's Out (no uuid), not any
        new SteadySocket('ws://127.0.0.1:1/', { codec, use: [acks({ id: (m) => m.uuid, ack: () => undefined })] });
        // @ts-expect-error and the client's In (no seq)
        new SteadySocket('ws://127.0.0.1:1/', { codec, use: [acks({ id: () => undefined, ack: (m) => m.seq })] });
      `;
      expect(problems(code, {}, compiler)).to.deep.equal([]);
    });

    it(`heartbeat's ping and isPong go together in the types too, with ${name}`, () => {
      const code = `
        import { SteadySocket, heartbeat } from 'steadysocket';
        // @ts-expect-error ping without isPong throws INVALID_OPTION
        heartbeat({ interval: 1, timeout: 1, ping: () => 'ping' });
        // @ts-expect-error isPong without ping throws INVALID_OPTION
        heartbeat({ interval: 1, timeout: 1, isPong: () => true });
        heartbeat({ interval: 1, timeout: 1 });
        new SteadySocket('ws://127.0.0.1:1/', { use: [heartbeat({ interval: 1, timeout: 1, ping: () => 'ping', isPong: (m) => m === 'pong' })] });
      `;
      expect(problems(code, {}, compiler)).to.deep.equal([]);
    });

    it(`persist({ sync: true }) takes a store that saves synchronously only, with ${name}`, () => {
      const code = `
        import { persist, indexedDbStore, type OutboxStore } from 'steadysocket';
        import { fileStore } from 'steadysocket/node';
        // @ts-expect-error an IndexedDB store has no saveSync: INVALID_OPTION
        persist(indexedDbStore('outbox'), { sync: true });
        declare const own: OutboxStore;
        // @ts-expect-error nor has a store of your own that only implements OutboxStore
        persist(own, { sync: true });
        persist(fileStore('outbox.json'), { sync: true });
        persist(indexedDbStore('outbox'));
        persist(own, { sync: false });
        declare const maybe: boolean;
        persist(fileStore('outbox.json'), { sync: maybe });
      `;
      expect(problems(code, {}, compiler)).to.deep.equal([]);
    });

    it(`requests() without wrap sends { id, request }: only a client that can send it takes it, with ${name}`, () => {
      const code = `
        import { SteadySocket, json, requests } from 'steadysocket';
        ${TYPES}
        // @ts-expect-error without a codec the client sends text and bytes: every request would throw INVALID_MESSAGE
        new SteadySocket('ws://127.0.0.1:1/', { use: [requests()] });
        // @ts-expect-error { id, request } is no Out
        new SteadySocket('ws://127.0.0.1:1/', { codec: json<In, Out>(), use: [requests()] });
        new SteadySocket('ws://127.0.0.1:1/', { codec: json(), use: [requests()] });
        new SteadySocket('ws://127.0.0.1:1/', { codec: json<In, Out | { id: number; request: unknown }>(), use: [requests({ timeout: 5 })] });
        new SteadySocket('ws://127.0.0.1:1/', { codec: json<In, { type: 'call'; id: number; data: unknown }>(), use: [requests({ wrap: (id, data) => ({ type: 'call', id, data }) })] });
      `;
      expect(problems(code, {}, compiler)).to.deep.equal([]);
    });

    it(`CloseInfo says what close listeners get: error and status present and undefined when there is none, with ${name}`, () => {
      // The client emits { ..., error: undefined, status: undefined } (test/integration/review-types-3.test.ts).
      const code = `
        import { SteadySocket, defaultShouldReconnect, type CloseInfo } from 'steadysocket';
        const info: CloseInfo = { code: 4000, reason: 'bye', wasClean: true, attempt: 1, error: undefined, status: undefined };
        defaultShouldReconnect(info);
        new SteadySocket('ws://127.0.0.1:1/').on('close', (closed) => {
          const copy: CloseInfo = { ...closed, error: closed.error, status: closed.status };
          void copy;
        });
      `;
      expect(problems(code, { exactOptionalPropertyTypes: true }, compiler)).to.deep.equal([]);
    });
  }
});
