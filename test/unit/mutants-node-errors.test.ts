// Gaps found by mutation testing src/node.ts (proxy agents from a URL or the environment),
// src/errors.ts and src/attempt.ts: behaviour no other test pinned down.
import { expect } from 'chai';
import type { HttpsProxyAgent } from 'https-proxy-agent';
import { causeText, tlsVerifyCode } from '../../src/errors';
import { createProxyAgent, proxyAgentFor } from '../../src/node';

/** What createProxyAgent / proxyAgentFor threw, as text, or the proxy host and scheme of the agent it made. */
function outcome(make: () => unknown): string {
  try {
    const { protocol, host } = (make() as HttpsProxyAgent<string>).proxy;
    return `agent ${protocol}//${host}`;
  } catch (error) {
    return String(error);
  }
}

describe('mutation gaps: steadysocket/node proxy URLs', () => {
  // A scheme-less proxy URL with `://` further on was taken as having a scheme: its user name.
  // The "unsupported proxy" error then named the user, and the password when it held the `://`.
  const schemeLess = [
    'zqAlice:zqPass1@proxy.internal:3128/?next=http://x', // `://` in a query value
    'zqAlice:zqPa://ss@proxy.internal:3128', // `://` in the password
  ];
  for (const input of schemeLess) {
    it(`takes ${JSON.stringify(input.replace(/zq\w+/g, '…'))} as an http:// proxy and shows no credentials`, () => {
      for (const text of [outcome(() => createProxyAgent(input)), outcome(() => proxyAgentFor('ws://example.com/', { HTTP_PROXY: input }))]) {
        expect(text).to.not.match(/zq\w+/i).and.not.match(/unsupported/i);
        expect(text).to.match(/^(agent http:\/\/proxy\.internal:3128$|TypeError: Invalid proxy URL "http:\/\/\*\*\*:\*\*\*@proxy\.internal)/);
      }
    });
  }

  it('trims white space around a proxy URL, given or in a variable (a URL with a scheme stays https://)', () => {
    expect(outcome(() => createProxyAgent('  https://proxy.internal:3128\n'))).to.equal('agent https://proxy.internal:3128');
    for (const value of ['\t https://proxy.internal:3128 ', ' proxy.internal:3128\n']) {
      const scheme = value.includes('https') ? 'https' : 'http';
      expect(outcome(() => proxyAgentFor('wss://example.com/', { HTTPS_PROXY: value })), JSON.stringify(value)).to.equal(`agent ${scheme}://proxy.internal:3128`);
    }
  });

  it('names the type of a proxy URL or options it refuses, null as null', () => {
    expect(() => createProxyAgent(null as never)).to.throw(TypeError, /got null\.$/);
    expect(() => createProxyAgent(42 as never)).to.throw(TypeError, /got number\.$/);
    expect(() => createProxyAgent('http://proxy.internal:3128', null as never)).to.throw(TypeError, /got null\.$/);
    expect(() => createProxyAgent('http://proxy.internal:3128', 'x' as never)).to.throw(TypeError, /got string\.$/);
  });

  it('quotes a CONNECT header name it refuses only up to its first bad character, and at most 40 characters (a mistyped name may hold a token)', () => {
    const refused = (headers: Record<string, string>) => {
      try {
        createProxyAgent('http://proxy.internal:3128', { headers });
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('expected a refusal');
    };
    const message = refused({ 'Proxy-Authorization: Basic zqToken1234': 'v' });
    expect(message).to.include('"Proxy-Authorization"').and.not.include('Basic').and.not.include('zqToken1234');
    expect(refused({ 'Authorization:zqToken1234': 'v' })).to.include('"Authorization"').and.not.include('zqToken1234');
    // A good name with a bad value: the name is no secret, cut to 40 characters; the value never shown.
    const long = `X-${'a'.repeat(50)}`;
    expect(refused({ [long]: 'zqValue\r\n' })).to.include(JSON.stringify(long.slice(0, 40))).and.not.include(long).and.not.include('zqValue');
  });

  it('names the proxy it refuses as not HTTP(S), redacted, before saying what to do', () => {
    expect(outcome(() => createProxyAgent('socks5://u:zqSocksPass@127.0.0.1:1080/?k=zqSocksQuery'))).to.equal(
      'TypeError: Unsupported proxy socks5://***:***@127.0.0.1:1080/?k=***: steadysocket/node tunnels through HTTP(S) proxies with CONNECT. ' +
        'For a socks5 proxy, pass your own agent (e.g. from socks-proxy-agent) as the agent option.',
    );
  });

  it('reads a NO_PROXY entry as an IPv6 address only when the whole entry is one: text around brackets stays as it is', () => {
    const proxy = { HTTP_PROXY: 'http://proxy.internal:3128' };
    for (const noProxy of ['x[::1]', '[::1]x', '[::1]:8080x']) {
      expect(outcome(() => proxyAgentFor('ws://[::1]:8080/', { ...proxy, NO_PROXY: noProxy })), noProxy).to.equal('agent http://proxy.internal:3128');
    }
  });
});

describe('mutation gaps: errors', () => {
  it('causeText gives the type of a value that cannot be made text (no prototype, a message getter that throws)', () => {
    expect(causeText(Object.create(null))).to.equal('object');
    const throwing = {
      get message(): string {
        throw new Error('no');
      },
    };
    expect(causeText(throwing)).to.equal('object');
  });

  it('tlsVerifyCode takes only a string code: a list holding a TLS code is none', () => {
    expect(tlsVerifyCode({ code: ['EPROTO'] })).to.equal(undefined);
    expect(tlsVerifyCode({ code: 'EPROTO' })).to.equal('EPROTO');
  });
});
