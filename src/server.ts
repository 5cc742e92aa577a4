import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type AppConfig } from './config.js';

// The process entry: configuration from the environment, the app, listen, and a graceful close on
// SIGINT/SIGTERM: readiness goes false first, SHUTDOWN_DELAY_MS later new connections are refused,
// in-flight requests finish, then the workers stop.

let config: AppConfig;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`gradserve: ${err.message}\n`);
  process.exit(1);
}

const app = await buildApp(config);

closeWithGrace({ delay: config.shutdownDelayMs + config.timeoutMs + 5_000, logger: app.log }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an uncaught error');
  else app.log.info({ signal }, 'closing: draining in-flight requests');
  app.accepting = false;
  // /readyz now answers 503; a load balancer polling it stops sending before the listener closes
  if (!err && config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
  await app.close();
});

try {
  await app.listen({ port: config.port, host: config.host });
} catch (err) {
  app.log.fatal({ err }, 'could not start');
  await app.close().catch(() => {});
  process.exit(1);
}
