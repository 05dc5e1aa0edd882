import type { CloseInfo, DropInfo, OpenInfo, ReconnectingInfo, State, SteadySocketError, WireData } from '../index';
import type { CliOptions } from './args';
import { colorsFor, type Colors } from './colors';
import { ExitCode } from './exit-codes';
import { displayUrl, formatBytes, formatDelay, renderMessage, visible, type Encoding } from './messages';
import { describe, paint, type Line } from './output';
import type { Scrubber } from './redact';
import { Session, type Reporter } from './session';
import { Terminal } from './terminal';

const STATUS_REFRESH_MS = 100;
const NO_DATA = Buffer.alloc(0);

export const SLASH_COMMANDS: readonly { name: string; args: string; help: string }[] = [
  { name: '/ping', args: '[text]', help: 'send a ping (carrying the text) and show the round trip' },
  { name: '/close', args: '[code] [reason]', help: 'close with a code (1000 or 3000–4999) and reason, then exit' },
  { name: '/reconnect', args: '', help: 'drop the connection and connect again at once' },
  { name: '/stats', args: '', help: 'show counters: attempts, messages, bytes, rtt, queue' },
  { name: '/quit', args: '', help: 'close normally and exit (also Ctrl-D, or Ctrl-C on an empty line)' },
  { name: '/help', args: '', help: 'show this list' },
];

const HELP_COLUMN = 24;

/**
 * The /help lines for a terminal `width` columns wide: the description wraps at word boundaries
 * and its continuation lines are indented under it (never a word cut in two).
 */
export function helpLines(width: number): string[] {
  const entries = [...SLASH_COMMANDS.map((c) => ({ name: `${c.name} ${c.args}`.trim(), help: c.help })), { name: '//text', help: 'send a message that starts with /' }];
  const indent = HELP_COLUMN + 1;
  const room = Math.max(20, width - indent);
  const lines: string[] = [];
  for (const { name, help } of entries) {
    const wrapped = wrapWords(help, room);
    lines.push(`${name.padEnd(HELP_COLUMN)} ${wrapped[0]}`);
    for (const rest of wrapped.slice(1)) lines.push(`${' '.repeat(indent)}${rest}`);
  }
  return lines;
}

/** Splits text into lines of at most `width` characters at spaces; a longer word stands alone. */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  lines.push(line);
  return lines;
}

/** What the status line says, in words, for a snapshot of the session. */
export interface StatusSnapshot {
  state: State;
  url: string;
  protocol: string;
  rtt: number | undefined;
  queued: number;
  retry: { at: number; attempt: number } | undefined;
  attempts: number;
}

export function statusText(s: StatusSnapshot, now: number, colors: Colors): string {
  const dot = '●';
  const queued = s.queued ? ` · ${s.queued} queued` : '';
  switch (s.state) {
    case 'open': {
      const parts = ['connected'];
      if (s.protocol) parts.push(`protocol ${s.protocol}`);
      if (s.rtt !== undefined) parts.push(`rtt ${s.rtt} ms`);
      return `${colors.green(dot)} ${parts.join(' · ')}${queued}`;
    }
    case 'connecting':
      return `${colors.cyan(dot)} connecting to ${displayUrl(s.url)}…${s.attempts > 1 ? ` (attempt ${s.attempts})` : ''}${queued}`;
    case 'waiting': {
      if (!s.retry) return `${colors.yellow(dot)} waiting${queued}`;
      const left = s.retry.at - now;
      const when = Number.isFinite(left) ? `in ${formatDelay(Math.max(0, left))}` : 'when resumed';
      return `${colors.yellow(dot)} reconnecting ${when} (attempt ${s.retry.attempt})${queued}`;
    }
    case 'closing':
      return `${colors.yellow(dot)} closing…`;
    case 'closed':
      return `${colors.red(dot)} closed`;
  }
}

/**
 * The interactive reporter. Received messages go to stdout and answers to what you typed (slash
 * commands) to the prompt's stream, both through the terminal so the footer stays intact.
 * Connection events are diagnostics: on stderr, through the terminal when stderr is the terminal,
 * else straight to wherever stderr was sent (`2>/dev/null`, `2>log`); none with -q.
 */
class TerminalReporter implements Reporter {
  terminal: Terminal | undefined;

  constructor(
    private readonly out: Colors,
    private readonly ui: Colors,
    private readonly encoding: Encoding,
    private readonly scrubber: Scrubber,
    private readonly events: { quiet: boolean; stderrIsTerminal: boolean },
  ) {}

  message(data: unknown): void {
    const { text, binary, bytes } = renderMessage(data, this.encoding);
    const label = binary ? this.out.dim(`[binary ${formatBytes(bytes!)}] `) : '';
    this.terminal?.print(`${this.out.cyan('<')} ${label}${visible(text)}`, 'output');
  }
  open(info: OpenInfo): void {
    this.line(describe.open(info));
  }
  close(info: CloseInfo, opened: boolean): void {
    // A failed attempt was already reported by its error.
    if (opened || !info.error) this.line(describe.close(info));
  }
  reconnecting(info: ReconnectingInfo): void {
    this.line(describe.reconnecting(info));
  }
  error(error: SteadySocketError): void {
    this.line(describe.error(error));
  }
  drop(info: DropInfo<WireData>): void {
    this.line(describe.drop(info, this.encoding));
  }
  ping(data: Buffer): void {
    this.line(describe.ping(data));
  }
  pong(data: Buffer, rtt: number | undefined): void {
    this.line(describe.pong(data, rtt));
  }
  notice(text: string): void {
    this.line({ text, tone: 'note' });
  }
  /** A connection event or notice: a diagnostic. */
  line(line: Line): void {
    if (this.events.quiet) return;
    if (!this.events.stderrIsTerminal) {
      process.stderr.write(`${paint(this.ui, { ...line, text: visible(this.scrubber.scrub(line.text)) })}\n`);
      return;
    }
    this.reply(line);
  }
  /** An answer to what was typed (a slash command, a message not sent): next to the prompt. */
  reply(line: Line): void {
    this.terminal?.print(paint(this.ui, { ...line, text: visible(this.scrubber.scrub(line.text)) }));
  }
}

/** Interactive mode: prompt, live status line, slash commands. Resolves with the exit code. */
export async function runInteractive(options: CliOptions, env: NodeJS.ProcessEnv, scrubber: Scrubber): Promise<number> {
  const out = colorsFor(process.stdout, options.color, env);
  const ui = colorsFor(process.stderr, options.color, env);
  const uiStream = process.stderr.isTTY ? process.stderr : process.stdout;
  const reporter = new TerminalReporter(out, ui, options.encoding, scrubber, { quiet: options.quiet, stderrIsTerminal: process.stderr.isTTY === true });
  const session = new Session(options, reporter, { scrubber });
  const terminal = new Terminal({
    input: process.stdin,
    output: process.stdout,
    ui: uiStream,
    showStatus: process.stderr.isTTY === true,
    prompt: `${ui.bold('>')} `,
    completer: (line: string) => {
      if (!line.startsWith('/')) return [[], line];
      const names = SLASH_COMMANDS.map((c) => c.name).filter((name) => name.startsWith(line));
      return [names, line];
    },
  });
  reporter.terminal = terminal;

  const snapshot = (): string => {
    const stats = session.counters.snapshot();
    return statusText(
      {
        state: session.socket.state,
        url: session.socket.url ?? options.url,
        protocol: session.socket.protocol,
        rtt: session.rtt,
        queued: stats.queued,
        retry: session.retry,
        attempts: stats.attempts,
      },
      Date.now(),
      ui,
    );
  };
  const refresh = () => terminal.setStatus(scrubber.scrub(snapshot()));
  refresh();
  const ticker = setInterval(refresh, STATUS_REFRESH_MS);
  session.socket.on('state', refresh);

  const quit = () => {
    if (!session.ended) void session.end(1000, '', ExitCode.OK);
  };
  terminal.onQuit(quit);
  terminal.onLine((line) => {
    if (line.startsWith('/') && !line.startsWith('//')) {
      slash(line, session, reporter, quit, () => (uiStream.columns || 80) - 1);
      return;
    }
    // `//text` sends `/text`.
    const message = line.startsWith('//') ? line.slice(1) : line;
    try {
      const sent = session.send(message);
      terminal.print(`${ui.dim('>')} ${message}${sent ? '' : ui.dim(' (queued)')}`);
    } catch (error) {
      reporter.reply({ text: `not sent: ${(error as Error).message}`, tone: 'bad' });
    }
  });
  // Signals from outside (Ctrl-C at the prompt arrives as a key instead): close, restore the terminal.
  const onInt = () => void session.end(1000, '', ExitCode.INTERRUPTED);
  const onTerm = () => void session.end(1000, '', ExitCode.TERMINATED);
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);

  try {
    const code = await session.done;
    clearInterval(ticker);
    const failure = session.failure(code);
    terminal.close(failure ? `${snapshot()} · ${ui.red(visible(scrubber.scrub(failure)))} (exit ${code})` : snapshot());
    return code;
  } finally {
    clearInterval(ticker);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

function slash(line: string, session: Session, reporter: TerminalReporter, quit: () => void, width: () => number): void {
  const [command, ...args] = line.trim().split(/\s+/);
  const say = (text: string, tone: Line['tone'] = 'note') => reporter.reply({ text, tone });
  try {
    switch (command) {
      case '/help':
      case '/?':
        for (const text of helpLines(width())) say(text);
        return;
      case '/ping': {
        // The rest of the line, spaces kept, is the ping frame's payload (wscat's /ping [data]).
        const text = line.trim().slice(command.length).trim();
        if (Buffer.byteLength(text) > 125) {
          say(`/ping: the text is ${Buffer.byteLength(text)} bytes; a ping frame carries at most 125 (not sent)`, 'bad');
          return;
        }
        const connected = session.socket.state === 'open';
        session.ping(text || undefined).then(
          (rtt) => reporter.reply(describe.pong(NO_DATA, rtt)),
          (error: SteadySocketError) => {
            if (!connected && error.code === 'CONNECTION_CLOSED') say(`not connected: no ping sent (${error.code})`, 'warn');
            else if (!session.ended) say(`ping failed: ${error.code}: ${error.message}`, 'warn');
          },
        );
        return;
      }
      case '/close': {
        const code = args[0] === undefined ? 1000 : Number(args[0]);
        if (!Number.isInteger(code)) {
          say(`/close: ${JSON.stringify(args[0])} is not a close code (use 1000 or 3000–4999)`, 'bad');
          return;
        }
        const reason = args.slice(1).join(' ');
        void session.end(code, reason, ExitCode.OK);
        say(`closing with ${code}${reason ? ` (${reason})` : ''}`);
        return;
      }
      case '/reconnect':
        session.socket.reconnect();
        say('reconnecting…');
        return;
      case '/stats': {
        const s = session.counters.snapshot();
        const messages = (n: number) => `${n} message${n === 1 ? '' : 's'}`;
        say(`state ${session.socket.state} · connected for ${formatDelay(s.connectedTime)} · attempts ${s.attempts} · reconnects ${s.reconnects}`);
        say(`in ${messages(s.messagesIn)}, ${formatBytes(s.bytesIn)} · out ${messages(s.messagesOut)}, ${formatBytes(s.bytesOut)}`);
        say(`rtt ${session.rtt === undefined ? '–' : `${session.rtt} ms`} · queued ${s.queued}`);
        return;
      }
      case '/quit':
      case '/exit':
        quit();
        return;
      default:
        say(`unknown command ${command}: try /help (start with // to send a leading /)`, 'bad');
    }
  } catch (error) {
    say(`${command}: ${(error as Error).message}`, 'bad');
  }
}
