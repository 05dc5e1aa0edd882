// The `steadysocket` command. Node only: built to dist/cli.js, never part of the browser bundle.
import { readFileSync } from 'node:fs';
import { parseArgs, UsageError, type CliOptions } from './args';
import { colorsFor } from './colors';
import { ExitCode } from './exit-codes';
import { runInteractive } from './interactive';
import { runPipe } from './pipe';
import { askHidden } from './prompt';
import { scrubberFor, type Scrubber } from './redact';

/** Nothing the CLI writes on stderr itself may carry a secret of this run (see redact.ts). */
let scrubber: Scrubber | undefined;
const writeErr = (text: string): void => void process.stderr.write(scrubber ? scrubber.scrub(text) : text);

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  scrubber = scrubberFor(argv, env);
  const parsed = parseArgs(argv, {
    stdout: (text) => process.stdout.write(text),
    stderr: writeErr,
    version: packageVersion(),
  });
  if ('exit' in parsed) return parsed.exit;
  const options = parsed.run;
  // And from what commander made of it, whatever way the flags were written.
  for (const protocol of options.subprotocols) if (protocol.length > 24) scrubber.add(protocol);
  for (const [name, value] of Object.entries(options.headers)) if (!/^(?:host|origin)$/i.test(name)) scrubber.addHeaderValue(value);
  try {
    if (options.passphrase === true) {
      options.passphrase = await passphrase(options);
      scrubber.add(options.passphrase);
    }
    if (options.insecure) warnInsecure(options, env);
    const interactive = !options.json && options.execute.length === 0 && process.stdin.isTTY === true && process.stdout.isTTY === true;
    return interactive ? await runInteractive(options, env, scrubber) : await runPipe(options, env, scrubber);
  } catch (error) {
    if (error instanceof UsageError) {
      writeErr(`error: ${error.message}\n(run steadysocket --help for usage)\n`);
      return ExitCode.USAGE;
    }
    if (error instanceof Interrupted) return ExitCode.INTERRUPTED;
    writeErr(`steadysocket: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    return ExitCode.RUNTIME_ERROR;
  }
}

class Interrupted extends Error {}

/** `--passphrase` without a value: ask on the terminal without echo, as wscat does; never read it from a pipe. */
async function passphrase(options: CliOptions): Promise<string> {
  if (options.key === undefined) throw new UsageError('--passphrase is for an encrypted --key; there is no --key.');
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) {
    throw new UsageError(
      '--passphrase was given without a value and there is no terminal to ask on. ' +
        'Give it as --passphrase <pass> (visible in ps), or use an unencrypted key in a private file.',
    );
  }
  const answer = await askHidden(process.stdin, process.stderr, `Passphrase for ${options.key}: `);
  if (answer === undefined) throw new Interrupted();
  return answer;
}

function warnInsecure(options: CliOptions, env: NodeJS.ProcessEnv): void {
  const c = colorsFor(process.stderr, options.color, env);
  const flag = options.insecureFlag === '-n/--no-check' ? "-n/--no-check (wscat's name for -k/--insecure)" : '-k/--insecure';
  process.stderr.write(
    `${c.bold(c.red(`WARNING: ${flag}: the server certificate is NOT verified.`))}\n` +
      `${c.red('Anyone on the network path can read and change this connection. Trust a private CA with --ca <file> instead.')}\n`,
  );
}

function packageVersion(): string {
  // dist/cli.js sits next to package.json's dist/; from src/cli it is two levels up.
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'steadysocket' && pkg.version) return pkg.version;
    } catch {
      // Try the next place.
    }
  }
  return '0.0.0';
}

/**
 * Exits once stdout has taken everything written to it, however slow its reader (a pipe into a
 * slow consumer may hold megabytes), or at once when it is broken.
 */
function exit(code: number): void {
  process.exitCode = code;
  const out = process.stdout;
  if (out.destroyed || !out.writable) process.exit(code);
  out.once('error', () => process.exit(code));
  out.write('', () => process.exit(code));
}

// A reader of stderr that went away (`2>&1 | head -1`) ends nothing: what stderr says is a
// courtesy, and the exit code still tells how the run went.
process.stderr.on('error', () => {});

main(process.argv.slice(2), process.env).then(exit, (error: unknown) => {
  writeErr(`steadysocket: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  exit(ExitCode.RUNTIME_ERROR);
});
