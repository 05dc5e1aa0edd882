// The published typings (dist/*.d.ts), as users' compilers meet them: the docs' snippets under the
// oldest TypeScript the README names (5.4) and the current one, a Node project without the DOM
// library that checks library files (skipLibCheck off), and exactOptionalPropertyTypes.
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type ts from 'typescript';
import current from 'typescript';
import { extractSnippets, markdownFiles, typeCheck, type CheckWith, type Snippet } from '../docs/snippets';

const root = fileURLToPath(new URL('../../', import.meta.url));
// A workspace of its own (compat/typescript-oldest), so its tsc stays out of the repo's node_modules/.bin.
const oldest = createRequire(new URL('../../compat/typescript-oldest/package.json', import.meta.url))('typescript') as typeof ts;
const compilers: [string, typeof ts][] = [
  [`TypeScript ${oldest.version} (the oldest the README names)`, oldest],
  [`TypeScript ${current.version}`, current],
];

const snippets: Snippet[] = markdownFiles(root)
  .flatMap((file) => extractSnippets(file, readFileSync(join(root, file), 'utf8')).snippets)
  .filter((snippet) => !snippet.noCheck);

/** Problems of `snippets` checked with `using`, as "file:line: message" lines. */
function problems(list: Snippet[], using: CheckWith): string[] {
  const dir = join(root, 'node_modules', '.cache', `typings-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    const results = typeCheck(root, dir, list, (path, text) => writeFileSync(path, text), { ...using, against: 'dist' });
    return [...results].flatMap(([snippet, found]) => found.map((d) => `${snippet.file}:${d.line || snippet.line}: ${d.message}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A consumer program, as a snippet of its own. */
const program = (code: string): Snippet => ({ file: 'test/package/typings.test.ts', line: 1, lang: 'ts', code });

describe('typings: dist/*.d.ts as users compile them', function () {
  this.timeout(180_000);

  before(function () {
    for (const file of ['index.d.ts', 'node.d.ts']) {
      if (!existsSync(join(root, 'dist', file))) throw new Error(`dist/${file} is missing: run \`npm run build\` first.`);
    }
  });

  for (const [name, compiler] of compilers) {
    it(`every snippet of README.md and docs/*.md type-checks with ${name}, also under exactOptionalPropertyTypes`, () => {
      expect(problems(snippets, { compiler })).to.deep.equal([]);
      expect(problems(snippets, { compiler, options: { exactOptionalPropertyTypes: true } })).to.deep.equal([]);
    });

    it(`compiles in a Node project without the DOM library, library files checked, with ${name}`, () => {
      const node = program(`
        import { SteadySocket, json, heartbeat, acks, requests, persist, indexedDbStore, type SteadySocketOptions } from 'steadysocket';
        import { fileStore, createProxyAgent } from 'steadysocket/node';
        type In = { type: 'pong' } | { type: 'reply'; re: number; ok: boolean };
        type Out = { type: 'ping' } | { type: 'order'; id: number };
        const options: SteadySocketOptions<In, Out> = { codec: json<In, Out>(), agent: createProxyAgent('http://127.0.0.1:3128') };
        const socket = new SteadySocket('ws://127.0.0.1:8080/', { ...options, use: [heartbeat({ interval: 1000, timeout: 500 }), persist(fileStore('outbox.json'))] });
        socket.send({ type: 'order', id: 1 });
        void [acks, indexedDbStore];
        // Literal messages built by features are checked against the client's outbound type (and keep their literal types).
        type Call = { type: 'call'; id: number; data: unknown } | { type: 'ping' };
        new SteadySocket('ws://127.0.0.1:8080/', {
          codec: json<In, Call>(),
          use: [requests({ wrap: (id, data) => ({ type: 'call', id, data }) }), heartbeat({ interval: 1000, timeout: 500, ping: () => ({ type: 'ping' }), isPong: (m) => m.type === 'pong' })],
        });
      `);
      expect(problems([node], { compiler, options: { lib: ['lib.es2022.d.ts'], skipLibCheck: false } })).to.deep.equal([]);
    });

    it(`still refuses features that do not fit the client, with ${name}`, () => {
      const wrong = program(`
        import { SteadySocket, json, heartbeat, requests, acks } from 'steadysocket';
        type In = { type: 'pong' } | { type: 'reply'; re: number };
        type Out = { type: 'ping' } | { type: 'order'; id: number };
        const codec = json<In, Out>();
        // @ts-expect-error a ping the client cannot send
        new SteadySocket('ws://127.0.0.1:8080/', { codec, use: [heartbeat({ interval: 1, timeout: 1, ping: () => ({ type: 'pang' }), isPong: () => true })] });
        // @ts-expect-error isPong reads a field inbound messages do not have
        new SteadySocket('ws://127.0.0.1:8080/', { codec, use: [heartbeat({ interval: 1, timeout: 1, ping: () => ({ type: 'ping' }), isPong: (m) => m.kind === 'pong' })] });
        // @ts-expect-error a request envelope the client cannot send
        new SteadySocket('ws://127.0.0.1:8080/', { codec, use: [requests({ wrap: (id) => ({ type: 'call', id }) })] });
        // @ts-expect-error acks reading an id field outbound messages do not have
        new SteadySocket('ws://127.0.0.1:8080/', { codec, use: [acks({ id: (m) => m.uuid, ack: (m) => (m.type === 'reply' ? m.re : undefined) })] });
        const ok = new SteadySocket('ws://127.0.0.1:8080/', { codec, use: [heartbeat({ interval: 1, timeout: 1, ping: () => ({ type: 'ping' }), isPong: (m) => m.type === 'pong' })] });
        // @ts-expect-error a message of another type
        ok.send({ type: 'pang' });
        // A client without a codec sends strings: a heartbeat pinging with 'ping' fits it.
        new SteadySocket('ws://127.0.0.1:8080/', { use: [heartbeat({ interval: 1, timeout: 1, ping: () => 'ping', isPong: (m) => m === 'pong' })] }).send('x');
      `);
      expect(problems([wrong], { compiler })).to.deep.equal([]);
    });

    it(`takes undefined for the optional options and arguments under exactOptionalPropertyTypes, with ${name}`, () => {
      // A value that may be undefined, as configuration usually is.
      const strict = program(`
        import { SteadySocket, heartbeat, ping, ttl, acks, requests, json, type SteadySocketOptions } from 'steadysocket';
        import { fileStore } from 'steadysocket/node';
        declare function maybe<T>(value: T): T | undefined;
        const options: SteadySocketOptions = {
          protocols: maybe(['v1']), maxRetries: maybe(3), minDelay: maybe(1), maxDelay: maybe(2), factor: maybe(2), jitter: maybe(1),
          stableAfter: maybe(1), connectTimeout: maybe(5), closeTimeout: maybe(5), maxMessages: maybe(10), maxBytes: maybe(10),
          overflow: maybe('error'), highWaterMark: maybe(1), binaryType: maybe('arraybuffer'), headers: maybe({}), origin: maybe('o'),
          agent: maybe(undefined), ca: maybe('pem'), cert: maybe('pem'), key: maybe('pem'), passphrase: maybe('p'),
          rejectUnauthorized: maybe(true), perMessageDeflate: maybe(false), maxPayload: maybe(1), followRedirects: maybe(false),
          maxRedirects: maybe(1), unref: maybe(true), shouldReconnect: maybe(() => true), use: maybe([]),
        };
        const socket = new SteadySocket('ws://127.0.0.1:8080/', options);
        void socket.deliver('x', { signal: maybe(new AbortController().signal) });
        const chat = new SteadySocket('ws://127.0.0.1:8080/', { codec: json<{ re?: number }, { id?: number }>() });
        void [
          heartbeat({ interval: 1, timeout: 1, ping: maybe(undefined), isPong: maybe(undefined) }),
          ping(socket, { timeout: maybe(5), data: maybe('x') }),
          ttl(1),
          acks<{ re?: number }, { id?: number }>({ id: (m) => m.id, ack: (m) => m.re, timeout: maybe(5) }),
          requests({ wrap: maybe(undefined), match: maybe(undefined), timeout: maybe(5), resend: maybe(false) }),
          fileStore('outbox.json', { fsync: maybe(true), mode: maybe(0o600) }),
          chat,
        ];
      `);
      expect(problems([strict], { compiler, options: { exactOptionalPropertyTypes: true } })).to.deep.equal([]);
    });
  }
});
