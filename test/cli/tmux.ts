// The CLI in a real terminal: tmux, driven from the tests (interactive.test.ts,
// mutants-pipe.test.ts). Each Tmux is a tmux server of our own (its own socket), so nothing else
// on the machine is touched.
import { execFileSync, spawnSync } from 'node:child_process';
import { CLI, until } from './helpers';

let servers = 0;

export class Tmux {
  private readonly socket = `steadysocket-cli-test-${process.pid}-${++servers}`;

  run(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }

  /** Runs `command` (see cliCommand()) in a terminal `columns` wide and 30 rows high. */
  start(command: string, columns = 110): void {
    this.run('new-session', '-d', '-x', String(columns), '-y', '30', '-s', 'cli', command);
  }

  screen(escapes = false): string {
    return this.run('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 'cli');
  }

  keys(...keys: string[]): void {
    this.run('send-keys', '-t', 'cli', ...keys);
  }

  async waitFor(match: string | RegExp, timeout = 5000): Promise<string> {
    let screen = '';
    const test = () => {
      screen = this.screen();
      return typeof match === 'string' ? screen.includes(match) : match.test(screen);
    };
    await until(test, timeout, `${match} on the screen:\n${screen}`).catch((error: Error) => {
      throw new Error(`${error.message}\n--- screen ---\n${this.screen()}`);
    });
    return screen;
  }

  /** The last non-empty lines of the screen. */
  tail(count: number): string[] {
    return this.screen().split('\n').filter((line) => line.trim() !== '').slice(-count);
  }

  /** The PID of the CLI: the child of the pane's shell. */
  cliPid(): number {
    const shell = this.run('display-message', '-p', '-t', 'cli', '#{pane_pid}').trim();
    return Number(execFileSync('pgrep', ['-P', shell], { encoding: 'utf8' }).trim().split('\n')[0]);
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { stdio: 'ignore' });
  }
}

export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The shell command that runs the built CLI with `args` in a clean environment (no proxy or
 * colour variables; `env` added), then shows its exit code as EXIT=<code>. `stdoutTo`/`stderrTo`:
 * files to send them to; `input`: piped to stdin (pipe mode, stdout still the terminal).
 */
export function cliCommand(args: string[], options: { env?: Record<string, string>; stdoutTo?: string; stderrTo?: string; input?: string } = {}): string {
  const { env = {}, stdoutTo, stderrTo, input } = options;
  const vars = Object.entries({ TERM: 'xterm-256color', ...env }).map(([k, v]) => `${k}=${shellQuote(v)}`);
  const unset = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'NO_COLOR', 'FORCE_COLOR'].map((v) => `-u ${v}`);
  const redirect = `${stdoutTo ? ` >${shellQuote(stdoutTo)}` : ''}${stderrTo ? ` 2>${shellQuote(stderrTo)}` : ''}`;
  const pipe = input === undefined ? '' : `printf %s ${shellQuote(input)} | `;
  return `${pipe}env ${unset.join(' ')} ${vars.join(' ')} ${shellQuote(process.execPath)} ${shellQuote(CLI)} ${args.map(shellQuote).join(' ')}${redirect}; echo "EXIT=$?"; sleep 30`;
}
