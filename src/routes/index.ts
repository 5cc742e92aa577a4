import type { FastifyPluginAsync } from 'fastify';
import type { AppConfig } from '../config.js';
import { explainRoutes } from './explain/index.js';
import { forwardRoutes } from './forward/index.js';
import { gradientsRoutes } from './gradients/index.js';
import { gradcheckRoutes } from './gradcheck/index.js';
import { healthRoutes } from './health/index.js';
import { nameComponents } from './shared/components.js';
import { opsRoutes } from './ops/index.js';
import { rootRoutes } from './root/index.js';
import { stepRoutes } from './step/index.js';
import { trainRoutes } from './train/index.js';

nameComponents();

/** Every route of the service, one plugin per resource (the OpenAPI document orders them for readers). */
const routes: FastifyPluginAsync<{ config: AppConfig }> = async (app, opts) => {
  await app.register(gradientsRoutes, opts);
  await app.register(forwardRoutes, opts);
  await app.register(stepRoutes, opts);
  await app.register(trainRoutes, opts);
  await app.register(gradcheckRoutes, opts);
  await app.register(explainRoutes, opts);
  await app.register(opsRoutes);
  await app.register(healthRoutes, opts);
  await app.register(rootRoutes);
};

export default routes;
