import * as readline from 'node:readline';
import { stripVTControlCharacters } from 'node:util';

export interface TerminalOptions {
  input: NodeJS.ReadStream;
  /** Where received messages go (stdout). */
  output: NodeJS.WriteStream;
  /** Where the prompt, the typed text and the status line go (stderr when it is a terminal). */
  ui: NodeJS.WriteStream;
  /** Draw a status line above the prompt. */
  showStatus: boolean;
  prompt: string;
  completer?: readline.Completer;
}

/**
 * The interactive screen: lines scroll up above a footer made of a live status line and the
 * readline prompt with whatever is being typed. Printing clears the footer, writes the line and
 * draws the footer again, so output never lands in the middle of the user's typing.
 *
 * The status line is the first line of readline's prompt, so readline itself redraws it on every
 * keystroke, resize and history step, and accounts for it when the input wraps.
 */
export class Terminal {
  private readonly rl: readline.Interface;
  private status = '';
  private closed = false;
  private onLineHandler: (line: string) => void = () => {};
  private onQuitHandler: () => void = () => {};

  constructor(private readonly options: TerminalOptions) {
    this.rl = readline.createInterface({
      input: options.input,
      output: options.ui,
      terminal: true,
      historySize: 500,
      removeHistoryDuplicates: true,
      completer: options.completer,
    });
    this.rl.setPrompt(this.footer());
    this.rl.on('line', (line) => this.submitted(line));
    this.rl.on('SIGINT', () => {
      // Like a shell: Ctrl-C clears a half-typed line; on an empty line it quits.
      if (this.rl.line.length > 0) {
        this.rl.write(null, { ctrl: true, name: 'u' });
        this.rl.write(null, { ctrl: true, name: 'k' });
      } else this.onQuitHandler();
    });
    this.rl.on('close', () => {
      if (!this.closed) this.onQuitHandler(); // Ctrl-D on an empty line
    });
    options.ui.on('resize', this.onResize);
    this.rl.prompt();
  }

  onLine(handler: (line: string) => void): void {
    this.onLineHandler = handler;
  }

  /** Ctrl-C on an empty line, or Ctrl-D. */
  onQuit(handler: () => void): void {
    this.onQuitHandler = handler;
  }

  /** Replaces the status line (a no-op when unchanged). */
  setStatus(text: string): void {
    if (text === this.status) return;
    this.status = text;
    if (!this.options.showStatus || this.closed) return;
    this.rl.setPrompt(this.footer());
    this.rl.prompt(true);
  }

  /** Prints a line above the footer, on stdout (`'output'`) or the UI stream (`'ui'`). */
  print(text: string, stream: 'output' | 'ui' = 'ui'): void {
    const target = stream === 'output' ? this.options.output : this.options.ui;
    if (this.closed) {
      target.write(`${text}\n`);
      return;
    }
    const rows = this.rl.getCursorPos().rows;
    this.clearFooter(rows);
    target.write(`${text}\n`);
    // readline redraws by first moving up as many rows as the cursor sat below the prompt's
    // start; step down that far so it lands on the fresh line under what was just printed.
    if (rows > 0) this.options.ui.write('\n'.repeat(rows));
    this.rl.prompt(true);
  }

  /** Removes the footer, prints `finalLine` if given and hands the terminal back. */
  close(finalLine?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.options.ui.off('resize', this.onResize);
    this.clearFooter(this.rl.getCursorPos().rows);
    if (finalLine) this.options.ui.write(`${finalLine}\n`);
    this.rl.close();
  }

  private footer(): string {
    if (!this.options.showStatus) return this.options.prompt;
    return `${truncate(this.status, (this.options.ui.columns || 80) - 1)}\n${this.options.prompt}`;
  }

  private submitted(line: string): void {
    // readline has moved below the entered text; wipe the old footer and the entered line, so
    // the line can be echoed in the log and the footer drawn afresh under it.
    const columns = this.options.ui.columns || 80;
    const rows = displayRows(this.footer() + line, columns) + 1;
    this.clearFooter(rows);
    this.rl.prompt();
    this.onLineHandler(line);
  }

  private clearFooter(rowsAbove: number): void {
    const ui = this.options.ui;
    if (rowsAbove > 0) readline.moveCursor(ui, 0, -rowsAbove);
    readline.cursorTo(ui, 0);
    readline.clearScreenDown(ui);
  }

  private readonly onResize = (): void => {
    if (this.closed) return;
    this.rl.setPrompt(this.footer());
    this.rl.prompt(true);
  };
}

/** Rows below the first that `text` ends on in a terminal `columns` wide (as readline counts). */
export function displayRows(text: string, columns: number): number {
  let rows = 0;
  let offset = 0;
  for (const char of stripVTControlCharacters(text)) {
    if (char === '\n') {
      rows += Math.ceil(offset / columns) || 1;
      offset = 0;
      continue;
    }
    const width = charWidth(char.codePointAt(0)!);
    if (width === 2 && (offset + 1) % columns === 0) offset++;
    offset += width;
  }
  return rows + Math.floor(offset / columns);
}

/** Cuts `text` (which may hold colour codes) to `width` visible characters. */
export function truncate(text: string, width: number): string {
  const plain = stripVTControlCharacters(text);
  if ([...plain].length <= width) return text;
  return `${[...plain].slice(0, Math.max(0, width - 1)).join('')}…`;
}

/** Terminal cells a code point takes: 0 for combining marks, 2 for East Asian wide and emoji. */
function charWidth(code: number): number {
  if ((code >= 0x300 && code <= 0x36f) || (code >= 0x200b && code <= 0x200f) || (code >= 0xfe00 && code <= 0xfe0f)) return 0;
  if (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}
