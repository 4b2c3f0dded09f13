export { main, parseArgs, completionScript } from './main.js';
export type { CliContextFile } from './context.js';
export { ExitCode } from './exit.js';
