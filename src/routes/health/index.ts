import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { primary } from '../../cluster.js';
import type { AppConfig } from '../../config.js';
import { readPlanStats } from '../../engine/plans.js';
import { HttpError } from '../../errors.js';
import { HealthSchema, ReadySchema } from './schema.js';

const started = Date.now();

export const healthRoutes: FastifyPluginAsyncZod<{ config: AppConfig }> = async (app, { config }) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'healthz',
        summary: 'Liveness: the process is up',
        response: { 200: HealthSchema },
      },
    },
    async () => ({ status: 'ok' as const, uptimeSeconds: (Date.now() - started) / 1000 }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'readyz',
        summary: 'Readiness: the worker pool is up; the kernel backend and the limits in force',
        description:
          'Answers 503 before the pool is ready (with PROCESSES > 1, until every process of the replica listens) and as soon as a shutdown begins, so load balancers drain the instance.',
        response: { 200: ReadySchema },
      },
    },
    async () => {
      if (!app.accepting || app.kernelBackend === null) {
        throw new HttpError('NOT_READY', 'the worker pool is not accepting computations');
      }
      if (primary && !primary.replicaReady) throw new HttpError('NOT_READY', 'the replica\'s other processes are still starting');
      return {
        status: 'ready' as const,
        kernelBackend: app.kernelBackend,
        workers: app.pool.workers,
        queueDepth: app.pool.queueDepth,
        busyWorkers: app.pool.busyWorkers,
        limits: {
          bodyLimitBytes: config.bodyLimitBytes,
          maxElements: config.maxElements,
          maxNodes: config.maxNodes,
          timeoutMs: config.timeoutMs,
          flopBudget: config.flopBudget,
          queueLimit: config.queueLimit,
          rateLimitPerMinute: config.rateLimit ?? null,
        },
        auth: config.apiKeys.length > 0,
        modelCache: { specs: app.models.sizes, plans: readPlanStats(app.pool.planStats) },
      };
    },
  );
};
