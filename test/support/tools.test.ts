// The set-up of system tools: one package list, used by npm test and the harnesses; a suite whose
// tool is missing is skipped with the command that enables it, or fails under CI=true.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PACKAGES, SYSTEM_TOOLS, enableCommand, ensureSystemPackages, locateTool } from '../../scripts/system-deps.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** mocha (with the repo's .mocharc.cjs, so the same reporter) over the fixture, in a child. */
function runFixture(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['node_modules/mocha/bin/mocha.js', 'test/support/fixtures/needs-a-tool.ts'], {
      cwd: root,
      env: { ...env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

describe('system tools for the tests (scripts/system-deps.mjs)', function () {
  this.timeout(40_000);
  const missingChromium: NodeJS.ProcessEnv = { ...process.env, CHROMIUM_PATH: '/nonexistent/chromium' };
  delete missingChromium.CI;

  it('keeps one list of Debian packages, which .ci/run does not repeat: it runs exactly npm ci and npm test', () => {
    expect(SYSTEM_PACKAGES).to.include.members(['chromium', 'firefox-esr', 'nginx', 'tinyproxy-bin', 'iproute2', 'tmux']);
    const ci = readFileSync(join(root, '.ci/run'), 'utf8');
    const commands = ci.split('\n').filter((line) => line.trim() && !line.trim().startsWith('#'));
    expect(commands.filter((line) => /\bnpm\b/.test(line))).to.have.length(2);
    expect(ci).to.match(/^npm ci\b/m).and.to.match(/\bnpm test\b/);
    for (const pkg of SYSTEM_PACKAGES) expect(commands.join('\n'), `.ci/run names ${pkg}`).not.to.include(pkg);
    expect(ci).not.to.match(/apt-get|dpkg-query/);
  });

  it('finds a tool through its environment variable first, and says how to enable a missing one', () => {
    expect(locateTool('chromium', { CHROMIUM_PATH: process.execPath })).to.deep.equal({ path: process.execPath });
    expect(locateTool('chromium', { CHROMIUM_PATH: '/nonexistent/chromium' }).missing).to.include('CHROMIUM_PATH=/nonexistent/chromium');
    expect(enableCommand(['nginx'])).to.match(/^(sudo )?apt-get install -y --no-install-recommends nginx$/);
    expect(enableCommand(['chromium'])).to.include('CHROMIUM_PATH=');
    for (const tool of SYSTEM_TOOLS) expect(tool.needed, tool.name).to.be.a('string');
  });

  it('installs nothing when TEST_INSTALL_SYSTEM_DEPS=0', () => {
    const saved = process.env.TEST_INSTALL_SYSTEM_DEPS;
    process.env.TEST_INSTALL_SYSTEM_DEPS = '0';
    try {
      expect(ensureSystemPackages({ log: () => {} })).to.deep.equal({ installed: [], missing: [], skipped: 'TEST_INSTALL_SYSTEM_DEPS=0' });
    } finally {
      if (saved === undefined) delete process.env.TEST_INSTALL_SYSTEM_DEPS;
      else process.env.TEST_INSTALL_SYSTEM_DEPS = saved;
    }
  });

  it('skips a suite whose tool is missing (pending, reason shown), lists it with its enable command, and keeps the count line last', async () => {
    const { code, stdout } = await runFixture(missingChromium);
    expect(code, stdout).to.equal(0);
    expect(stdout).to.include('skipped: CHROMIUM_PATH=/nonexistent/chromium is not an executable file');
    expect(stdout).to.match(/Skipped suites \(1\)[\s\S]*- a suite that needs chromium: CHROMIUM_PATH=[\s\S]*enable: .*apt-get install -y --no-install-recommends chromium/);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.at(-1)).to.equal('1 passed, 0 failed, 2 skipped');
  });

  it('fails that suite instead under CI=true, naming the missing tool and its install command', async () => {
    const { code, stdout } = await runFixture({ ...missingChromium, CI: 'true' });
    expect(code, stdout).to.not.equal(0);
    expect(stdout).to.include('Under CI=true a missing system tool fails the run');
    expect(stdout).to.include('apt-get install -y --no-install-recommends chromium');
    expect(stdout.trimEnd().split('\n').at(-1)).to.equal('1 passed, 1 failed, 0 skipped');
  });
});
