import { run, serve } from './compute.js';

// The module each of the pool's worker threads starts with (workers/threads.ts).
serve(run);
