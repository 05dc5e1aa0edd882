import { isSteadySocketError } from '../index';
import { DEFAULT_COUNT_WAIT, type CliOptions } from './args';
import { colorsFor } from './colors';
import { ExitCode } from './exit-codes';
import { InputError, visible } from './messages';
import { JsonReporter, PlainReporter } from './output';
import type { Scrubber } from './redact';
import { Session } from './session';

/** Input lines read, and those that were not sent (skipped with a notice). */
interface LineCount {
  read: number;
  skipped: number;
}

/** Above this many bytes or messages waiting (outbox + socket), stop taking input (stdin lines, -x messages) until they drain. */
const INPUT_HIGH_WATER = 1024 * 1024;
const INPUT_MAX_QUEUED = 1000;

/**
 * Pipe mode (stdin lines in, message lines out) and execute mode (-x). Ends once the input is
 * exhausted and sent, after -w; or when --count is reached (or not reached in time: exit 7); or
 * when the client gives up (a first connection that never opens gives up after --connect-attempts).
 */
export async function runPipe(options: CliOptions, env: NodeJS.ProcessEnv, scrubber: Scrubber): Promise<number> {
  const reporter = options.json
    ? new JsonReporter(process.stdout, process.stderr, options.encoding, options.quiet, scrubber)
    : new PlainReporter(process.stdout, process.stderr, colorsFor(process.stderr, options.color, env), options.encoding, options.quiet, scrubber);
  const session = new Session(options, reporter, { firstConnectAttempts: options.connectAttempts, scrubber });
  const removeSignals = handleSignals(session);
  let readerGone = false;
  let writeFailed: string | undefined;
  // A reader that went away (`| head -1`) is a normal end, not a crash. Any other failure to
  // write (a full disk) loses output: the run ends, and says so.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') readerGone = true;
    else writeFailed ??= `cannot write to stdout: ${error.code ?? error.message}`;
    if (!session.ended) void session.end(1000, '', readerGone ? undefined : ExitCode.RUNTIME_ERROR);
  });
  // A reader that stops reading (a stalled consumer, a pager): stop reading from the server
  // until stdout drains, rather than hold every message it sends in memory.
  let readingPaused = false;
  session.socket.on('message', () => {
    if (!process.stdout.writableNeedDrain || readingPaused) return;
    readingPaused = true;
    session.pauseReading(true);
    process.stdout.once('drain', () => {
      readingPaused = false;
      session.pauseReading(false);
    });
  });
  const { count } = options;
  // With --count the wait is a deadline for the messages: a missing reply is never a success.
  const wait = options.wait ?? (count !== undefined ? DEFAULT_COUNT_WAIT : undefined);
  let shortfall: string | undefined;

  const firstOpen = new Promise<boolean>((resolve) => {
    session.socket.once('open', () => resolve(true));
    void session.done.then(() => resolve(false));
  });

  /** Input lines read, and those skipped (invalid for --hex/--base64, or refused by the client). */
  const lines: LineCount = { read: 0, skipped: 0 };
  /** The input was read to its end (stdin ended; -x: every message handed over). */
  let inputRead = false;

  try {
    const input = options.execute.length ? sendAll(session, options.execute, reporter, lines) : sendStdin(session, reporter, options.encoding === 'binary', lines);
    await Promise.race([input.then((all) => (inputRead = all)), session.done]);
    // Connect at least once even with empty input: a quick reachability check.
    if (!session.ended && (await firstOpen)) {
      await Promise.race([session.socket.flushed().catch(() => undefined), session.done]);
      session.finishing = true;
      await linger(session, wait);
      if (!session.ended) {
        if (count !== undefined && session.received < count) {
          shortfall = `only ${session.received} of ${count} message${count === 1 ? '' : 's'} (--count) arrived within ${wait === -1 ? 'the connection' : `${wait} s (-w)`}`;
          await session.end(1000, '', ExitCode.COUNT_NOT_REACHED);
        } else await session.end();
      }
    }
    let code = await session.done;
    if (writeFailed) {
      process.stderr.write(`steadysocket: ${writeFailed} (exit ${ExitCode.RUNTIME_ERROR})\n`);
      return ExitCode.RUNTIME_ERROR;
    }
    if (code === ExitCode.OK && count !== undefined && session.received < count && !readerGone) {
      code = ExitCode.COUNT_NOT_REACHED;
      shortfall ??= `the connection ended after only ${session.received} of ${count} message${count === 1 ? '' : 's'} (--count)`;
    }
    // Nothing read is lost without a word: the connection ended the session (not the CLI: the
    // input done, --count, a signal, a reader gone) before stdin ended, after lines came from it,
    // so the rest was never read; or lines were skipped. Never a quiet success. (A stdin that
    // gave nothing, left open while listening, is no input cut short.)
    // -q kept the note on each skipped line off stderr.
    const skippedWhy = options.quiet ? 'not valid for --hex/--base64, or refused by the client; run without -q to see each' : 'see the notes above';
    const cut = !inputRead && lines.read > 0 && !session.endedByCli && !readerGone;
    const incomplete = [
      lines.skipped ? `${lines.skipped} input line${lines.skipped === 1 ? ' was' : 's were'} not sent (skipped: ${skippedWhy})` : '',
      cut ? `the connection ended before the input did: the rest of ${options.execute.length ? 'the -x messages was not sent' : 'stdin was not read, nor sent'}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    if (incomplete && code === ExitCode.OK) code = ExitCode.INPUT_NOT_SENT;
    else if (incomplete) process.stderr.write(`steadysocket: ${incomplete}\n`);
    // Without -q the error events already said most of it on stderr.
    const failure =
      code === ExitCode.COUNT_NOT_REACHED
        ? shortfall
        : code === ExitCode.INPUT_NOT_SENT
          ? incomplete
          : options.quiet || options.json || session.gaveUpFirstConnect
            ? session.failure(code)
            : undefined;
    if (failure) process.stderr.write(`steadysocket: ${visible(scrubber.scrub(failure))} (exit ${code})\n`);
    return code;
  } finally {
    removeSignals();
  }
}

/** Sends every -x message, paced as stdin is; true when all were handed over (false: the session ended first). */
async function sendAll(session: Session, messages: string[], reporter: { notice(text: string): void }, lines: LineCount): Promise<boolean> {
  for (const message of messages) {
    lines.read++;
    if (!trySend(session, message, reporter, lines)) return false;
    await backpressure(session);
  }
  return true;
}

/**
 * The outbox is bounded (10,000 messages by default): past the high-water marks the input waits
 * for it to drain rather than overflow it (-x messages as much as stdin lines).
 */
async function backpressure(session: Session): Promise<void> {
  if (session.socket.bufferedAmount > INPUT_HIGH_WATER || session.counters.snapshot().queued >= INPUT_MAX_QUEUED) {
    await Promise.race([session.socket.flushed().catch(() => undefined), session.done]);
  }
}

/** Sends stdin line by line; true once stdin ended and every line was handed over (false: the session ended first). */
async function sendStdin(session: Session, reporter: { notice(text: string): void }, bytes: boolean, lines: LineCount): Promise<boolean> {
  // -b: every byte as it came (one char per byte), not decoded as UTF-8 (which would replace
  // invalid sequences); Session.send turns the line back into those bytes.
  process.stdin.setEncoding(bytes ? 'latin1' : 'utf8');
  for await (const line of linesOf(process.stdin, bytes)) {
    lines.read++;
    if (!trySend(session, line, reporter, lines, bytes)) return false;
    await backpressure(session);
  }
  return true;
}

/**
 * The lines of `input` (decoded text chunks), each without its `\n`; a last line without one
 * too. Only `\n` ends a line (readline also ends one at a lone `\r`, which cut binary input
 * apart): in text a `\r` right before it goes with it (CRLF files), and with `keepCr` (-b,
 * byte for byte) every `\r` stays. Read a chunk at a time, as the caller asks: stdin waits while
 * the caller does.
 */
export async function* linesOf(input: AsyncIterable<string>, keepCr: boolean): AsyncGenerator<string> {
  // The start of a line that spans chunks, a piece per chunk: each chunk is searched once, so a
  // line of many megabytes costs its length, not its length times its chunks.
  let pending: string[] = [];
  const line = (text: string) => (!keepCr && text.endsWith('\r') ? text.slice(0, -1) : text);
  for await (const chunk of input) {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
      pending.push(chunk.slice(start, end));
      yield line(pending.join(''));
      pending = [];
      start = end + 1;
    }
    if (start < chunk.length) pending.push(chunk.slice(start));
  }
  if (pending.length) yield line(pending.join(''));
}

/** Sends one line; a line that cannot be encoded or is refused is skipped with a notice, and counted. False once closed for good. */
function trySend(session: Session, line: string, reporter: { notice(text: string): void }, lines: LineCount, bytes = false): boolean {
  if (session.ended) return false;
  try {
    session.send(line, bytes);
  } catch (error) {
    if (error instanceof InputError) reporter.notice(`skipped a line that is ${error.message}`);
    else if (isSteadySocketError(error, 'CLOSED')) return false;
    else if (isSteadySocketError(error)) reporter.notice(`not sent: ${error.message}`);
    else throw error;
    lines.skipped++;
  }
  return true;
}

/** -w: keep listening for replies this many seconds (-1: until the server closes, or the session ends for good). */
async function linger(session: Session, wait: number | undefined): Promise<void> {
  if (!wait || session.ended) return;
  if (wait < 0) {
    await session.done;
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A timer holds at most 2^31 - 1 ms (24.8 days): a longer wait is waited in turns.
  const deadline = Date.now() + wait * 1000;
  const waited = new Promise<void>((resolve) => {
    const arm = () => {
      const left = deadline - Date.now();
      timer = left > 0 ? setTimeout(arm, Math.min(left, 2 ** 31 - 1)) : undefined;
      if (!timer) resolve();
    };
    arm();
  });
  await Promise.race([waited, session.done]);
  clearTimeout(timer);
}

/** SIGINT/SIGTERM close gracefully (exit 130/143); a second signal exits at once. */
function handleSignals(session: Session): () => void {
  let received = false;
  const handler = (code: number) => () => {
    if (received || session.ended) process.exit(code);
    received = true;
    void session.end(1000, '', code);
  };
  const onInt = handler(ExitCode.INTERRUPTED);
  const onTerm = handler(ExitCode.TERMINATED);
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}
