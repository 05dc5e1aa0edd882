// A bare Chrome DevTools Protocol client over `ws`. The browser measure drives Chromium with it
// rather than through playwright-core because Playwright enables the Network domain on every page
// it attaches to, and then the renderer reports every WebSocket frame to DevTools on its main
// thread: a per-message cost of the harness that would be charged to the client under test.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

export class Cdp {
  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.id !== undefined) {
        const call = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) call?.reject(new Error(`${call.method}: ${message.error.message}`));
        else call?.resolve(message.result);
      } else for (const listener of this.listeners) listener(message);
    });
    socket.on('close', () => {
      for (const call of this.pending.values()) call.reject(new Error('DevTools connection closed'));
      this.pending.clear();
    });
  }

  static async connect(url) {
    const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return new Cdp(socket);
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params, ...(sessionId && { sessionId }) }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
  }

  close() {
    this.socket.close();
  }
}

/** One page target with its own flat session. */
export class CdpPage {
  constructor(cdp, targetId, sessionId) {
    Object.assign(this, { cdp, targetId, sessionId });
  }

  send(method, params) {
    return this.cdp.send(method, params, this.sessionId);
  }

  /** Evaluates an expression in the page, awaiting a promise; throws the page's exception. */
  async evaluate(expression) {
    const { result, exceptionDetails } = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) throw new Error(`page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value;
  }

  async waitFor(expression, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.evaluate(expression).catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`page: timed out waiting for ${expression}`);
  }

  close() {
    return this.cdp.send('Target.closeTarget', { targetId: this.targetId });
  }
}

/**
 * Starts Chromium with the given flags and a throwaway profile, and connects to its DevTools
 * endpoint. Returns { cdp, version, newPage(url), close() }.
 */
export async function launch(executablePath, flags) {
  const profile = mkdtempSync(join(tmpdir(), 'steadysocket-bench-chromium-'));
  const child = spawn(executablePath, [...flags, '--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1', `--user-data-dir=${profile}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true, // its own process group: close() takes the renderers and helpers down with it
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const endpoint = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Chromium did not open its DevTools endpoint within 20 s')), 20_000);
    const lines = createInterface({ input: child.stderr });
    lines.on('line', (line) => {
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`Chromium exited (${code}) before opening DevTools`)));
  });
  child.stderr.resume();
  const cdp = await Cdp.connect(endpoint);
  const { product } = await cdp.send('Browser.getVersion');
  return {
    cdp,
    version: product,
    async newPage(url) {
      const { browserContextId } = await cdp.send('Target.createBrowserContext', { disposeOnDetach: true });
      const { targetId } = await cdp.send('Target.createTarget', { url, browserContextId });
      const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
      const page = new CdpPage(cdp, targetId, sessionId);
      page.dispose = async () => {
        await page.close().catch(() => {});
        await cdp.send('Target.disposeBrowserContext', { browserContextId }).catch(() => {});
      };
      return page;
    },
    async close() {
      await cdp.send('Browser.close').catch(() => {});
      cdp.close();
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
