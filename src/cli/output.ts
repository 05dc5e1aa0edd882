// Reporters for the non-interactive modes, and the human wording shared with the terminal UI.
import type { CloseInfo, DropInfo, OpenInfo, ReconnectingInfo, SteadySocketError, WireData } from '../index';
import type { Colors } from './colors';
import { describeClose, displayUrl, formatDelay, renderMessage, terminalSafeJson, toBuffer, visible, type Encoding } from './messages';
import { Scrubber } from './redact';
import type { Reporter } from './session';

const NEWLINE = Buffer.from('\n');

export type Tone = 'good' | 'warn' | 'bad' | 'note';

/** One event in words, with how alarming it is. */
export interface Line {
  text: string;
  tone: Tone;
}

export const describe = {
  open: (info: OpenInfo): Line => ({
    text: `connected to ${displayUrl(info.url)}${info.protocol ? ` (protocol ${info.protocol})` : ''}`,
    tone: 'good',
  }),
  close: (info: CloseInfo): Line => ({
    text: `disconnected: ${describeClose(info.code, info.reason)}${info.status ? ` (HTTP ${info.status})` : ''}`,
    tone: info.code === 1000 || info.code === 1001 ? 'note' : 'warn',
  }),
  reconnecting: (info: ReconnectingInfo): Line => ({
    text: Number.isFinite(info.delay)
      ? `reconnecting in ${formatDelay(info.delay)}${info.offline ? ' or when back online' : ''} (attempt ${info.attempt})`
      : `waiting to resume (attempt ${info.attempt})`,
    tone: 'warn',
  }),
  error: (error: SteadySocketError): Line => ({ text: `error ${error.code}: ${error.message}`, tone: 'bad' }),
  drop: (info: DropInfo<WireData>, encoding: Encoding): Line => ({
    text: `dropped a message (${info.reason}): ${renderMessage(info.data, encoding).text}`,
    tone: 'warn',
  }),
  ping: (data: Buffer): Line => ({ text: `ping received${data.length ? `: ${data.toString()}` : ''}`, tone: 'note' }),
  pong: (data: Buffer, rtt: number | undefined): Line => ({
    text: rtt === undefined ? `pong received${data.length ? `: ${data.toString()}` : ''}` : `pong in ${rtt} ms`,
    tone: 'note',
  }),
};

export function paint(colors: Colors, line: Line): string {
  switch (line.tone) {
    case 'good':
      return colors.green(line.text);
    case 'warn':
      return colors.yellow(line.text);
    case 'bad':
      return colors.red(line.text);
    case 'note':
      return colors.dim(line.text);
  }
}

interface Writable {
  write(text: string | Uint8Array): unknown;
}

/** Pipe mode: received messages on stdout, one per line, undecorated; diagnostics on stderr. */
export class PlainReporter implements Reporter {
  constructor(
    private readonly stdout: Writable,
    private readonly stderr: Writable,
    private readonly colors: Colors,
    private readonly encoding: Encoding,
    private readonly quiet: boolean,
    private readonly scrubber: Scrubber = new Scrubber(),
  ) {}

  message(data: unknown): void {
    // stdout a terminal (`echo sub | steadysocket URL`): a person reads it, and a server must not
    // drive it: control characters shown as escapes, as in interactive mode. Otherwise byte for
    // byte, for programs.
    if ((this.stdout as Writable & { isTTY?: boolean }).isTTY === true) this.stdout.write(`${visible(this.encoding === 'binary' && typeof data !== 'string' ? toBuffer(data).toString('utf8') : renderMessage(data, this.encoding).text)}\n`);
    // -b: a binary frame is printed as its bytes, untouched (not decoded as UTF-8).
    else if (this.encoding === 'binary' && typeof data !== 'string') this.stdout.write(Buffer.concat([toBuffer(data), NEWLINE]));
    else this.stdout.write(`${renderMessage(data, this.encoding).text}\n`);
  }
  open(info: OpenInfo): void {
    this.diagnostic(describe.open(info));
  }
  close(info: CloseInfo, opened: boolean): void {
    // A failed attempt was already reported by its error.
    if (opened || !info.error) this.diagnostic(describe.close(info));
  }
  reconnecting(info: ReconnectingInfo): void {
    this.diagnostic(describe.reconnecting(info));
  }
  error(error: SteadySocketError): void {
    this.diagnostic(describe.error(error));
  }
  drop(info: DropInfo<WireData>): void {
    this.diagnostic(describe.drop(info, this.encoding));
  }
  ping(data: Buffer): void {
    this.diagnostic(describe.ping(data));
  }
  pong(data: Buffer, rtt: number | undefined): void {
    this.diagnostic(describe.pong(data, rtt));
  }
  notice(text: string): void {
    this.diagnostic({ text, tone: 'note' });
  }

  private diagnostic(line: Line): void {
    if (this.quiet) return;
    const text = visible(this.scrubber.scrub(line.text));
    this.stderr.write(`${this.colors.dim('steadysocket:')} ${paint(this.colors, { ...line, text })}\n`);
  }
}

/** --json: one JSON object per line on stdout for every event, each with an ISO timestamp. */
export class JsonReporter implements Reporter {
  constructor(
    private readonly stdout: Writable,
    private readonly stderr: Writable,
    private readonly encoding: Encoding,
    private readonly quiet: boolean,
    private readonly scrubber: Scrubber = new Scrubber(),
    private readonly now: () => Date = () => new Date(),
  ) {}

  message(data: unknown): void {
    const { text, binary, encoding, bytes } = renderMessage(data, this.encoding);
    this.emit('message', binary ? { data: text, binary, encoding, bytes } : { data: text, binary });
  }
  open(info: OpenInfo): void {
    this.emit('open', { url: this.scrubber.scrub(displayUrl(info.url)), protocol: this.scrubber.scrub(info.protocol), attempt: info.attempt });
  }
  close(info: CloseInfo, opened: boolean): void {
    this.emit('close', {
      opened,
      code: info.code,
      reason: this.scrubber.scrub(info.reason),
      wasClean: info.wasClean,
      ...(info.status !== undefined && { status: info.status }),
      ...(info.error && { error: info.error.code }),
    });
  }
  reconnecting(info: ReconnectingInfo): void {
    // JSON has no Infinity: null means "no timer, waiting for a signal to resume".
    this.emit('reconnecting', { attempt: info.attempt, delay: Number.isFinite(info.delay) ? info.delay : null, offline: info.offline });
  }
  error(error: SteadySocketError): void {
    this.emit('error', {
      code: error.code,
      message: this.scrubber.scrub(error.message),
      ...((error as { proxy?: string }).proxy !== undefined && { proxy: (error as { proxy?: string }).proxy }),
      ...(error.status !== undefined && { status: error.status }),
      ...(error.closeCode !== undefined && { closeCode: error.closeCode }),
      ...(error.redirects !== undefined && { redirects: error.redirects }),
    });
  }
  drop(info: DropInfo<WireData>): void {
    const { text, binary, encoding } = renderMessage(info.data, this.encoding);
    this.emit('drop', { reason: info.reason, code: info.error.code, data: text, binary, ...(binary && { encoding }) });
  }
  ping(data: Buffer): void {
    this.emit('ping', { data: toBuffer(data).toString() });
  }
  pong(data: Buffer, rtt: number | undefined): void {
    this.emit('pong', { data: toBuffer(data).toString(), ...(rtt !== undefined && { rtt }) });
  }
  notice(text: string): void {
    if (!this.quiet) this.stderr.write(`steadysocket: ${visible(this.scrubber.scrub(text))}\n`);
  }

  private emit(type: string, fields: Record<string, unknown>): void {
    this.stdout.write(`${terminalSafeJson(JSON.stringify({ type, ts: this.now().toISOString(), ...fields }))}\n`);
  }
}
