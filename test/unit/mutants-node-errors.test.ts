// Gaps found by mutation testing src/node.ts (proxy agents from a URL or the environment),
// src/errors.ts and src/attempt.ts: behaviour no other test pinned down.
import { expect } from 'chai';
import type { HttpsProxyAgent } from 'https-proxy-agent';
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
});
