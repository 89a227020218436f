// Entry points read .env, then their configuration; a bad one ends the process with one line per problem.
import { ConfigError, loadDotEnv } from '../config';

export function loadOrExit<T>(load: () => T, hint: string): T {
  loadDotEnv();
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n(${hint})\n`);
    return process.exit(1);
  }
}
