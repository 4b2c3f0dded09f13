#!/usr/bin/env node
// The `shoal` command: runs the TypeScript CLI from source through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
