import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

// autocannon ships no typings: the part of its programmatic API these tests use.

export interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  onResponse?: (status: number, body: string, context: unknown, headers?: Record<string, string>) => void;
}

export interface AutocannonOptions {
  url: string;
  connections: number;
  /** seconds */
  duration: number;
  /** seconds without an answer before a request counts as a timeout */
  timeout?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  requests?: AutocannonRequest[];
}

export interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  duration: number;
  latency: { p50: number; p99: number };
}

export type AutocannonInstance = Promise<AutocannonResult> &
  EventEmitter & {
    on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): AutocannonInstance;
    stop(): void;
  };

export const autocannon = createRequire(import.meta.url)('autocannon') as (opts: AutocannonOptions) => AutocannonInstance;
