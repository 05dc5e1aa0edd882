// Asking for a secret on the terminal without echoing it (the --passphrase prompt).

/**
 * Prints `prompt` on `output` and reads one line from the terminal `input` in raw mode, echoing
 * nothing. Backspace edits; Enter ends. Resolves with the line, or undefined for Ctrl-C / Ctrl-D
 * on an empty line.
 */
export function askHidden(input: NodeJS.ReadStream, output: NodeJS.WriteStream, prompt: string): Promise<string | undefined> {
  output.write(prompt);
  const wasRaw = input.isRaw;
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve) => {
    let value = '';
    const finish = (result: string | undefined) => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      resolve(result);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n') return finish(value);
        if (char === '\u0003' || (char === '\u0004' && value === '')) return finish(undefined);
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char === '\u0015') value = ''; // Ctrl-U
        else if (char >= ' ') value += char;
      }
    };
    input.on('data', onData);
  });
}
