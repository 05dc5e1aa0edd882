// Asking for a secret on the terminal without echoing it (the --passphrase prompt).

/**
 * Prints `prompt` on `output` and reads one line from the terminal `input` in raw mode, echoing
 * nothing. Backspace edits; Enter ends (what follows it in the same read is left for the next
 * reader). Resolves with the line, or undefined for Ctrl-C / Ctrl-D on an empty line.
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
      const chars = [...chunk.toString()];
      for (const [i, char] of chars.entries()) {
        if (char === '\r' || char === '\n') {
          finish(value);
          // What came after Enter in the same read (a paste, keys typed ahead) is the input that
          // follows: give it back for the next reader, each Enter as \n (a pasted \r\n is one).
          const rest = chars.slice(char === '\r' && chars[i + 1] === '\n' ? i + 2 : i + 1).join('').replace(/\r\n?/g, '\n');
          if (rest) input.unshift(Buffer.from(rest));
          return;
        }
        if (char === '\u0003' || (char === '\u0004' && value === '')) return finish(undefined);
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char === '\u0015') value = ''; // Ctrl-U
        else if (char >= ' ') value += char;
      }
    };
    input.on('data', onData);
  });
}
