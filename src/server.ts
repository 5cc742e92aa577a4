import cluster from 'node:cluster';
import { setFlagsFromString } from 'node:v8';
import closeWithGrace from 'close-with-grace';
import { primary, runPrimary, workersOf } from './cluster.js';
import { ConfigError, loadConfig, type AppConfig } from './config.js';
import { keepFreedMemory } from './malloc.js';

// The process entry: configuration from the environment, the app, listen, and a graceful close on
// SIGINT/SIGTERM: readiness goes false first, SHUTDOWN_DELAY_MS later new connections are refused,
// in-flight requests finish, then the workers stop. With PROCESSES > 1 this process is the cluster's
// primary (cluster.ts) and each of the processes it starts runs the app.

// V8 starts the next full collection once the old generation has grown by 0.1–3× what survived the
// last one (more when the program spends little time collecting), and counts toward that growth the
// ArrayBuffers allocated since: bodies, tensors and answers, which for a large base64 request are about
// as much as the event loop's own live heap. Left to choose, V8 started a full collection for nearly
// every large request; pinned at its own largest factor, 4×, for a small fraction of them
// (docs/performance.md "Tuning").
setFlagsFromString('--heap-growing-percent=300');
// The young generation's size is fixed when V8 starts, so its flag (--max-semi-space-size) is on the
// command line instead: package.json's start script and the image's CMD.
keepFreedMemory();

let config: AppConfig;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`gradserve: ${err.message}\n`);
  process.exit(1);
}

if (config.processes > 1 && cluster.isPrimary) runPrimary(config);
else await serve(primary ? { ...config, workers: workersOf(config, Number(primary.index)), replicaWorkers: config.workers } : config);

async function serve(config: AppConfig): Promise<void> {
  // loaded here, not above: a cluster's primary serves no HTTP, and the app is most of a process's memory
  const { buildApp } = await import('./app.js');
  const app = await buildApp(config);

  let closing = false;
  const grace = closeWithGrace({ delay: config.shutdownDelayMs + config.timeoutMs + 5_000, logger: app.log }, async ({ signal, err }) => {
    closing = true;
    if (err) app.log.error({ err }, 'closing after an uncaught error');
    else app.log.info({ signal }, 'closing: draining in-flight requests');
    app.accepting = false;
    // /readyz now answers 503; a load balancer polling it stops sending before the listener closes
    if (!err && config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
    const toPrimary = primary;
    if (toPrimary) {
      // Fastify closes the listener once its preClose hooks have run; the primary waits for every
      // process's to close what node:cluster may have stranded (cluster.ts closeStranded)
      const watch = setInterval(() => {
        if (app.server.listening) return;
        clearInterval(watch);
        toPrimary.listenerClosed();
      }, 5).unref();
    }
    await app.close();
  });

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    app.log.fatal({ err }, 'could not start');
    await app.close().catch(() => {});
    process.exit(1);
  }

  if (primary) {
    // the primary's SIGTERM reaches the processes as this; a terminal's Ctrl-C reaches them itself
    primary.shutdown = () => {
      if (!closing) void grace.close();
    };
    primary.ready();
    if (primary.index !== '0') return;
  }
  // where a person starting the service goes next; a wildcard address is reachable as localhost
  const { port } = app.server.address() as { port: number };
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  app.log.info(`Swagger UI on http://${host}:${port}/docs`);
}
