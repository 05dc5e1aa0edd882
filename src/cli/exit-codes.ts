import type { CloseInfo, SteadySocketError } from '../index';

/** The documented exit codes (docs/cli.md and `--help`). */
export const ExitCode = {
  /** Normal end: input ended and was sent, -x/-w done, --count reached, /quit, /close, or the server closed normally. */
  OK: 0,
  /** stdout could not be written (not a reader that went away), or something unexpected went wrong inside the CLI. */
  RUNTIME_ERROR: 1,
  /** Bad flags or arguments, unreadable certificate files, invalid URL or subprotocol. */
  USAGE: 2,
  /** Could not connect, or lost the connection, and retries are exhausted or off. */
  CONNECTION_FAILED: 3,
  /** The server refused the handshake with HTTP 401 or 403. */
  HANDSHAKE_REJECTED: 4,
  /** The server closed the connection with an error close code and no reconnect followed. */
  SERVER_ERROR_CLOSE: 5,
  /** The HTTP proxy refused to open the tunnel (CONNECT answered 4xx, e.g. 403 by its rules, 407 credentials). */
  PROXY_REFUSED: 6,
  /** --count messages did not arrive: the wait (-w) ran out, or the connection ended first. */
  COUNT_NOT_REACHED: 7,
  /** Pipe/execute: input not sent in full: a line skipped (not valid for --hex/--base64, or refused), or the connection ended, after lines came from stdin, before stdin did. */
  INPUT_NOT_SENT: 8,
  /** Interrupted by SIGINT (Ctrl-C outside interactive mode); the connection is closed first. */
  INTERRUPTED: 130,
  /** Stopped by SIGTERM; the connection is closed first. */
  TERMINATED: 143,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0    normal end (input sent, -x/-w done, --count reached, /quit, server closed with 1000/1001/1005)
  1    stdout could not be written, or an unexpected runtime error
  2    usage error (bad flag, URL, subprotocol, header; unreadable file, --ca without a certificate)
  3    connection failed or lost, and retries exhausted (or --no-reconnect, or the first
       connection did not open after --connect-attempts in pipe/execute mode)
  4    the server rejected the handshake with HTTP 401 or 403
  5    server closed with an error close code (not 1000/1001/1005)
  6    the HTTP proxy refused the tunnel (CONNECT answered 4xx, e.g. 403 or 407)
  7    --count messages did not arrive within the wait (-w, default 10 s) or before the end
  8    input not sent in full: a line skipped (invalid for --hex/--base64, or refused), or the
       connection ended (e.g. --no-reconnect) before stdin did
  130  interrupted (SIGINT) outside interactive mode; 143 for SIGTERM`;

/** Close codes that mean the server ended the session on purpose and nothing went wrong. */
const NORMAL_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1001, 1005]);

/** What is known when the client has closed for good without the CLI asking it to. */
export interface Ending {
  /** The last `close` event. */
  close: CloseInfo | undefined;
  /** The last `error` event. */
  error: SteadySocketError | undefined;
}

/** Maps how a session ended (not by the user) to an exit code. */
export function exitCodeFor({ close, error }: Ending): number {
  if (error?.code === 'RETRIES_EXHAUSTED') {
    const status = close?.status ?? close?.error?.status;
    return status === 401 || status === 403 ? ExitCode.HANDSHAKE_REJECTED : ExitCode.CONNECTION_FAILED;
  }
  if (!close) return error ? ExitCode.CONNECTION_FAILED : ExitCode.OK;
  const status = close.status ?? close.error?.status;
  if (status === 401 || status === 403) return ExitCode.HANDSHAKE_REJECTED;
  if (status !== undefined) return ExitCode.CONNECTION_FAILED;
  // A close frame from the server: wasClean with its code. 1006 and local failures are not clean.
  if (close.wasClean && !close.error) {
    return NORMAL_CLOSE_CODES.has(close.code) ? ExitCode.OK : ExitCode.SERVER_ERROR_CLOSE;
  }
  return ExitCode.CONNECTION_FAILED;
}
