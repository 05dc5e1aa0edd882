// The `steadysocket` command. Node only: built to dist/cli.js, never part of the browser bundle.
import { readFileSync } from 'node:fs';
import { parseArgs, UsageError, type CliOptions } from './args';
import { colorsFor } from './colors';
import { ExitCode } from './exit-codes';
import { runInteractive } from './interactive';
import { runPipe } from './pipe';

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = parseArgs(argv, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    version: packageVersion(),
  });
  if ('exit' in parsed) return parsed.exit;
  const options = parsed.run;
  if (options.insecure) warnInsecure(options, env);
  const interactive = !options.json && options.execute.length === 0 && process.stdin.isTTY === true && process.stdout.isTTY === true;
  try {
    return interactive ? await runInteractive(options, env) : await runPipe(options, env);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n(run steadysocket --help for usage)\n`);
      return ExitCode.USAGE;
    }
    process.stderr.write(`steadysocket: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    return ExitCode.RUNTIME_ERROR;
  }
}

function warnInsecure(options: CliOptions, env: NodeJS.ProcessEnv): void {
  const c = colorsFor(process.stderr, options.color, env);
  process.stderr.write(
    `${c.bold(c.red('WARNING: -k/--insecure: the server certificate is NOT verified.'))}\n` +
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

/** Exits once stdout has taken everything written to it. */
function exit(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1000).unref();
  process.stdout.write('', () => process.exit(code));
}

main(process.argv.slice(2), process.env).then(exit, (error: unknown) => {
  process.stderr.write(`steadysocket: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  exit(ExitCode.RUNTIME_ERROR);
});
