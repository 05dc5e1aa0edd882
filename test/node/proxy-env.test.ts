import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { createProxyAgent, proxyAgentFor, type ProxyEnv } from '../../src/node';

/** The proxy the agent for `url` tunnels through, or undefined for a direct connection. */
function proxyFor(url: string | URL, env: ProxyEnv): string | undefined {
  const agent = proxyAgentFor(url, env);
  if (agent === undefined) return undefined;
  expect(agent).to.be.instanceOf(HttpsProxyAgent);
  return (agent as HttpsProxyAgent<string>).proxy.href;
}

describe('steadysocket/node proxyAgentFor: which proxy the environment asks for', () => {
  it('uses HTTP_PROXY for ws:// and HTTPS_PROXY for wss://', () => {
    const env = { HTTP_PROXY: 'http://plain.proxy:3128', HTTPS_PROXY: 'http://secure.proxy:3129' };
    expect(proxyFor('ws://example.com/feed', env)).to.equal('http://plain.proxy:3128/');
    expect(proxyFor('wss://example.com/feed', env)).to.equal('http://secure.proxy:3129/');
  });

  it('does not use HTTPS_PROXY for ws:// nor HTTP_PROXY for wss://', () => {
    expect(proxyFor('ws://example.com/', { HTTPS_PROXY: 'http://secure.proxy:3129' })).to.equal(undefined);
    expect(proxyFor('wss://example.com/', { HTTP_PROXY: 'http://plain.proxy:3128' })).to.equal(undefined);
  });

  it('falls back to ALL_PROXY for both schemes, after the scheme-specific variable', () => {
    const env = { ALL_PROXY: 'http://all.proxy:8080' };
    expect(proxyFor('ws://example.com/', env)).to.equal('http://all.proxy:8080/');
    expect(proxyFor('wss://example.com/', env)).to.equal('http://all.proxy:8080/');
    expect(proxyFor('wss://example.com/', { ...env, HTTPS_PROXY: 'http://secure.proxy:1' })).to.equal('http://secure.proxy:1/');
  });

  it('reads the lower-case variables too, and prefers them to the upper-case ones', () => {
    expect(proxyFor('ws://example.com/', { http_proxy: 'http://lower:1' })).to.equal('http://lower:1/');
    expect(proxyFor('wss://example.com/', { https_proxy: 'http://lower:2' })).to.equal('http://lower:2/');
    expect(proxyFor('wss://example.com/', { all_proxy: 'http://lower:3' })).to.equal('http://lower:3/');
    expect(proxyFor('ws://example.com/', { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:1' })).to.equal('http://lower:1/');
    expect(proxyFor('ws://example.com/', { no_proxy: 'example.com', HTTP_PROXY: 'http://upper:1' })).to.equal(undefined);
  });

  it('returns undefined when no proxy variable is set, or they are empty', () => {
    expect(proxyAgentFor('ws://example.com/', {})).to.equal(undefined);
    expect(proxyAgentFor('wss://example.com/', {})).to.equal(undefined);
    expect(proxyAgentFor('wss://example.com/', { HTTPS_PROXY: '', https_proxy: '  ', ALL_PROXY: '' })).to.equal(undefined);
  });

  it('ignores WS_PROXY / WSS_PROXY (ws:// is looked up as http://, wss:// as https://)', () => {
    expect(proxyAgentFor('ws://example.com/', { WS_PROXY: 'http://ws.proxy:1', ws_proxy: 'http://ws.proxy:1' })).to.equal(undefined);
    expect(proxyAgentFor('wss://example.com/', { WSS_PROXY: 'http://wss.proxy:1', wss_proxy: 'http://wss.proxy:1' })).to.equal(undefined);
  });

  it('honours NO_PROXY by exact host: localhost does not cover 127.0.0.1', () => {
    const env = { HTTP_PROXY: 'http://proxy:3128', HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'localhost,internal.example' };
    expect(proxyFor('ws://localhost:8080/', env)).to.equal(undefined);
    expect(proxyFor('wss://internal.example/', env)).to.equal(undefined);
    expect(proxyFor('ws://127.0.0.1:8080/', env)).to.equal('http://proxy:3128/');
    expect(proxyFor('wss://sub.internal.example/', env)).to.equal('http://proxy:3128/');
    expect(proxyFor('wss://example.com/', env)).to.equal('http://proxy:3128/');
  });

  it('honours NO_PROXY suffixes, ports, the * wildcard and the lower-case no_proxy', () => {
    const proxy = { HTTP_PROXY: 'http://proxy:3128', HTTPS_PROXY: 'http://proxy:3128' };
    expect(proxyFor('wss://a.corp.example/', { ...proxy, NO_PROXY: '.corp.example' })).to.equal(undefined);
    expect(proxyFor('wss://corp.example.org/', { ...proxy, NO_PROXY: '.corp.example' })).to.equal('http://proxy:3128/');
    // A port in NO_PROXY must match the URL's, with ws/wss default ports 80/443.
    expect(proxyFor('ws://10.0.0.5:9000/', { ...proxy, NO_PROXY: '10.0.0.5:9000' })).to.equal(undefined);
    expect(proxyFor('ws://10.0.0.5:9001/', { ...proxy, NO_PROXY: '10.0.0.5:9000' })).to.equal('http://proxy:3128/');
    expect(proxyFor('wss://10.0.0.5/', { ...proxy, NO_PROXY: '10.0.0.5:443' })).to.equal(undefined);
    expect(proxyFor('ws://10.0.0.5/', { ...proxy, NO_PROXY: '10.0.0.5:443' })).to.equal('http://proxy:3128/');
    expect(proxyFor('ws://anything.example/', { ...proxy, NO_PROXY: '*' })).to.equal(undefined);
    expect(proxyFor('ws://127.0.0.1/', { ...proxy, no_proxy: '127.0.0.1 ::1' })).to.equal(undefined);
  });

  it('honours a bare IPv6 address in NO_PROXY (::1, as curl reads it), bracketed ones too', () => {
    // Before: proxy-from-env read `::1` as host ':' and port 1, so ws://[::1] still went through the proxy.
    const proxy = { HTTP_PROXY: 'http://proxy:3128', HTTPS_PROXY: 'http://proxy:3128' };
    for (const noProxy of ['::1', 'localhost,127.0.0.1,::1', '[::1]', '[::1]:8080', ' ::1 ']) {
      expect(proxyFor('ws://[::1]:8080/', { ...proxy, NO_PROXY: noProxy }), noProxy).to.equal(undefined);
    }
    expect(proxyFor('ws://[::2]:8080/', { ...proxy, NO_PROXY: '::1' })).to.equal('http://proxy:3128/');
    expect(proxyFor('wss://[fd00::5]/', { ...proxy, NO_PROXY: 'fd00::5' })).to.equal(undefined);
    // Other spellings of one address: the URL's host is in its shortest form, so is NO_PROXY's now.
    for (const noProxy of ['0:0:0:0:0:0:0:1', '[0000::0001]', '[0:0::1]:8080', '::FFFF:127.0.0.1']) {
      const url = noProxy.includes('ffff') || noProxy.includes('FFFF') ? 'ws://[::ffff:127.0.0.1]:8080/' : 'ws://[::1]:8080/';
      expect(proxyFor(url, { ...proxy, NO_PROXY: noProxy }), noProxy).to.equal(undefined);
    }
    expect(proxyFor('ws://[::1]:8080/', { ...proxy, NO_PROXY: '[::1]:9090' }), 'another port').to.equal('http://proxy:3128/');
    expect(proxyFor('ws://cafe.example:8080/', { ...proxy, NO_PROXY: 'cafe.example:8080' }), 'a host with a port is no address').to.equal(undefined);
  });

  it('maps http:/https: URLs like the WHATWG standard does (to ws:/wss:)', () => {
    const env = { HTTP_PROXY: 'http://plain:1', HTTPS_PROXY: 'http://secure:2' };
    expect(proxyFor('http://example.com/', env)).to.equal('http://plain:1/');
    expect(proxyFor('https://example.com/', env)).to.equal('http://secure:2/');
    expect(proxyFor(new URL('wss://example.com/'), env)).to.equal('http://secure:2/');
  });

  it('takes a proxy value without a scheme as http:// (as curl does), also for wss://', () => {
    expect(proxyFor('wss://example.com/', { HTTPS_PROXY: 'proxy.internal:3128' })).to.equal('http://proxy.internal:3128/');
    expect(proxyFor('ws://example.com/', { HTTP_PROXY: '127.0.0.1:3128' })).to.equal('http://127.0.0.1:3128/');
  });

  it('throws a TypeError for a proxy it cannot tunnel through, without printing credentials', () => {
    expect(() => proxyAgentFor('wss://example.com/', { ALL_PROXY: 'socks5://user:secret@proxy:1080' }))
      .to.throw(TypeError, /socks5/)
      .with.property('message')
      .that.does.not.include('secret');
    expect(() => proxyAgentFor('ws://example.com/', { HTTP_PROXY: 'http://[bad' })).to.throw(TypeError, /Invalid proxy URL/);
  });

  it('throws a TypeError for a URL that is not a WebSocket URL', () => {
    expect(() => proxyAgentFor('ftp://example.com/', {})).to.throw(TypeError, /Not a WebSocket URL/);
    expect(() => proxyAgentFor('not a url', {})).to.throw(TypeError, /Invalid WebSocket URL/);
  });

  it('reads process.env by default and leaves process.env as it found it', () => {
    const env = process.env;
    const saved = { HTTPS_PROXY: env.HTTPS_PROXY, https_proxy: env.https_proxy, NO_PROXY: env.NO_PROXY, no_proxy: env.no_proxy };
    try {
      delete env.https_proxy;
      delete env.NO_PROXY;
      delete env.no_proxy;
      env.HTTPS_PROXY = 'http://from-process-env:3128';
      const agent = proxyAgentFor('wss://example.com/') as HttpsProxyAgent<string>;
      expect(agent.proxy.href).to.equal('http://from-process-env:3128/');
      expect(process.env).to.equal(env);
      expect(() => proxyAgentFor('wss://example.com/', { HTTPS_PROXY: 'socks://x:1' })).to.throw(TypeError);
      expect(process.env).to.equal(env);
      expect(process.env.HTTPS_PROXY).to.equal('http://from-process-env:3128');
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete env[name];
        else env[name] = value;
      }
    }
  });
});

describe('steadysocket/node createProxyAgent', () => {
  it('returns an HttpsProxyAgent for http:// and https:// proxies', () => {
    const make = (url: string) => createProxyAgent(url) as HttpsProxyAgent<string>;
    const agent = make('http://127.0.0.1:3128');
    expect(agent).to.be.instanceOf(HttpsProxyAgent);
    expect(agent.proxy.href).to.equal('http://127.0.0.1:3128/');
    expect(make('https://proxy.example:443').proxy.protocol).to.equal('https:');
    expect(make('proxy.example:3128').proxy.href).to.equal('http://proxy.example:3128/');
  });

  it('passes options to the agent (CONNECT headers, keepAlive)', () => {
    const agent = createProxyAgent('http://127.0.0.1:3128', { headers: { 'X-Proxy-Token': 't' }, keepAlive: true }) as HttpsProxyAgent<string>;
    const headers = typeof agent.proxyHeaders === 'function' ? agent.proxyHeaders() : agent.proxyHeaders;
    expect(headers).to.include({ 'X-Proxy-Token': 't' });
    expect(agent.keepAlive).to.equal(true);
  });

  it('refuses CONNECT headers with a line break or NUL in a value, or a name that is no token (no header injection)', () => {
    for (const headers of [{ 'X-Tok': 'a\r\nX-Evil: 1' }, { 'X-Tok': ['ok', 'b\nc'] }, { 'X-Tok': 'nul\0' }, { 'Bad Name': 'v' }]) {
      expect(() => createProxyAgent('http://127.0.0.1:3128', { headers } as never), JSON.stringify(headers)).to.throw(TypeError, /Invalid proxy header/);
    }
    expect(() => createProxyAgent('http://127.0.0.1:3128', { headers: { 'X-Tok': 'fine', 'X-List': ['a', 'b'], 'X-Num': 3 } } as never)).to.not.throw();
  });

  it('keeps credentials and query values of the URL and the proxy out of its errors', () => {
    const messages: string[] = [];
    for (const call of [
      () => proxyAgentFor('ws://u:zqPass1234@[bad/?token=zqToken1234', {}),
      () => createProxyAgent('http://u:zqProxyPass@[bad/?k=zqProxyQuery'),
      () => createProxyAgent('socks5://u:zqSocksPass@127.0.0.1:1080/?k=zqSocksQuery'),
    ]) {
      try {
        call();
      } catch (error) {
        messages.push(String(error));
      }
    }
    expect(messages).to.have.length(3);
    for (const message of messages) expect(message).to.not.match(/zq\w+/);
  });

  it('refuses a proxy URL that is no string or URL, and options that are no object', () => {
    for (const url of [42, null, undefined, {}, ['http://127.0.0.1:3128']]) {
      expect(() => createProxyAgent(url as never), String(url)).to.throw(TypeError, /expected a string or a URL/);
    }
    for (const options of [null, 'keepAlive', 3]) {
      expect(() => createProxyAgent('http://127.0.0.1:3128', options as never), String(options)).to.throw(TypeError, /expected an object/);
    }
    expect(() => createProxyAgent(new URL('http://127.0.0.1:3128'))).to.not.throw();
  });

  it('rejects proxies that are not HTTP(S)', () => {
    expect(() => createProxyAgent('socks5://127.0.0.1:1080')).to.throw(TypeError, /socks5 proxy/);
  });
});

describe('steadysocket/node builds', () => {
  const root = new URL('../../', import.meta.url);

  before(function () {
    for (const file of ['dist/node.js', 'dist/node.cjs', 'dist/node.d.ts']) {
      if (!existsSync(new URL(file, root))) throw new Error(`${file} is missing: run \`npm run build\` first.`);
    }
  });

  it('loads as ESM (import) and as CJS (require), with https-proxy-agent (ESM only) inside', async () => {
    const esm = (await import(new URL('dist/node.js', root).href)) as typeof import('../../src/node');
    const cjs = createRequire(import.meta.url)(new URL('dist/node.cjs', root).pathname) as typeof import('../../src/node');
    for (const helpers of [esm, cjs]) {
      expect(Object.keys(helpers).sort()).to.deep.equal(['createProxyAgent', 'fileStore', 'proxyAgentFor']);
      const agent = helpers.proxyAgentFor('wss://example.com/', { HTTPS_PROXY: 'http://proxy:1' }) as HttpsProxyAgent<string>;
      expect(agent.proxy.href).to.equal('http://proxy:1/');
      expect(helpers.proxyAgentFor('wss://example.com/', {})).to.equal(undefined);
    }
  });

  it('throws the main entry\'s SteadySocketError (one class across entries)', async () => {
    const main = (await import(new URL('dist/index.js', root).href)) as typeof import('../../src/index');
    const node = (await import(new URL('dist/node.js', root).href)) as typeof import('../../src/node');
    let error: unknown;
    try {
      node.fileStore('/nonexistent-dir-zq/outbox').saveSync([{ data: 'x' }]);
    } catch (caught) {
      error = caught;
    }
    expect(main.isSteadySocketError(error, 'STORAGE_FAILED'), String(error)).to.equal(true);
  });

  it('holds the ESM and the CommonJS build together to one client per store (no second client through the other copy)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steadysocket-dual-'));
    const require = createRequire(import.meta.url);
    const esm = { ...((await import(new URL('dist/index.js', root).href)) as typeof import('../../src/index')), ...((await import(new URL('dist/node.js', root).href)) as typeof import('../../src/node')) };
    const cjs = { ...(require(new URL('dist/index.cjs', root).pathname) as typeof import('../../src/index')), ...(require(new URL('dist/node.cjs', root).pathname) as typeof import('../../src/node')) };
    const file = join(dir, 'outbox.json');
    const refused = 'ws://127.0.0.1:9/';
    const first = new esm.SteadySocket(refused, { maxRetries: 0, use: [esm.persist(esm.fileStore(file))] });
    try {
      expect(() => new cjs.SteadySocket(refused, { maxRetries: 0, use: [cjs.persist(cjs.fileStore(file))] }))
        .to.throw(/Another client still uses the store/)
        .with.property('code', 'INVALID_OPTION');
      await first.close();
      // Once the first has closed, the other copy may use the store.
      await new cjs.SteadySocket(refused, { maxRetries: 0, use: [cjs.persist(cjs.fileStore(file))] }).close();
    } finally {
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('isSteadySocketError knows an error of the other build (ESM and CommonJS copies side by side)', async () => {
    const esm = (await import(new URL('dist/index.js', root).href)) as typeof import('../../src/index');
    const cjs = createRequire(import.meta.url)(new URL('dist/index.cjs', root).pathname) as typeof import('../../src/index');
    expect(esm.SteadySocketError, 'two classes').to.not.equal(cjs.SteadySocketError);
    for (const [made, judge] of [[cjs, esm], [esm, cjs]] as const) {
      let error: unknown;
      try {
        new made.SteadySocket('ftp://example.test/');
      } catch (caught) {
        error = caught;
      }
      expect(judge.isSteadySocketError(error)).to.equal(true);
      expect(judge.isSteadySocketError(error, 'INVALID_URL')).to.equal(true);
      expect(judge.isSteadySocketError(error, 'CLOSED')).to.equal(false);
    }
    expect(esm.isSteadySocketError(new Error('x')) || esm.isSteadySocketError(null) || esm.isSteadySocketError({ code: 'CLOSED' })).to.equal(false);
  });

  it('is a separate entry: the main builds do not contain the proxy helpers', () => {
    for (const file of ['dist/index.js', 'dist/index.cjs', 'dist/index.browser.js', 'dist/steadysocket.min.js']) {
      const text = readFileSync(new URL(file, root), 'utf8');
      expect(text, file).not.to.match(/https-proxy-agent|proxy-from-env|proxyAgentFor/);
    }
  });
});
