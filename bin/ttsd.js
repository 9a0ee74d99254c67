#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx: no build step, so `ttsd` never
// runs stale compiled code.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
