import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { EnvSchema, loadConfig } from '../../src/config.js';
import { NODE_FLAGS } from '../reliability/server-process.js';

// The deployment files cannot run here (no Docker, no cluster), so this checks what can be checked:
// they parse, and the numbers that must agree across them agree with each other and with the
// service's own configuration schema.

const root = join(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const k8sDir = 'docker/k8s';
const k8sFiles = readdirSync(join(root, k8sDir)).filter((f) => f.endsWith('.yaml'));

// manifests are untyped YAML
function yamlDocs(path: string): any[] {
  const docs = parseAllDocuments(read(path));
  for (const d of docs) expect(d.errors.map((e) => e.message), path).toEqual([]);
  return docs.map((d) => d.toJS());
}
const one = (path: string) => {
  const docs = yamlDocs(path);
  expect(docs, path).toHaveLength(1);
  return docs[0];
};

const configMap = one(`${k8sDir}/configmap.yaml`);
const deployment = one(`${k8sDir}/deployment.yaml`);
const compose = one('docker/compose.yaml');
const nginx = read('docker/nginx.conf');
const dockerfile = read('Dockerfile');
const container = deployment.spec.template.spec.containers[0];

/** the value of a one-line nginx directive, e.g. `client_max_body_size 16m;` → "16m" */
function directive(name: string): string {
  const all = [...nginx.matchAll(new RegExp(`^\\s*${name}\\s+([^;]+);`, 'gm'))];
  expect(all, `nginx.conf: ${name}`).toHaveLength(1);
  return all[0]![1]!.trim();
}
const seconds = (v: string) => {
  const m = /^(\d+)(s|m)?$/.exec(v);
  if (!m) throw new Error(`not an nginx time: ${v}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
};
/** compose durations like "35s" or "1m30s" */
const composeSeconds = (v: string) =>
  [...v.matchAll(/(\d+)(h|m|s)/g)].reduce((t, [, n, u]) => t + Number(n) * { h: 3600, m: 60, s: 1 }[u as 'h' | 'm' | 's'], 0);

describe('deployment manifests', () => {
  it('are one kind of Kubernetes object per file, all listed in the kustomization', () => {
    const kustomization = one(`${k8sDir}/kustomization.yaml`);
    const resources = k8sFiles.filter((f) => f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(resources.sort());
    const kinds = resources.map((f) => {
      const o = one(`${k8sDir}/${f}`);
      expect(o.apiVersion, f).toMatch(/^[a-z.\/]*v\d/);
      expect(o.metadata.name, f).toBe(o.kind === 'ConfigMap' ? 'gradserve-config' : 'gradserve');
      return o.kind;
    });
    expect(kinds.sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service']);
  });

  it('configure the service only with variables it knows, and values it accepts', () => {
    const known = new Set([...Object.keys(EnvSchema.shape), 'OPENBLAS_NUM_THREADS', 'NODE_ENV']);
    const composeEnv = compose.services.gradserve.environment as Record<string, string>;
    for (const env of [configMap.data, composeEnv]) {
      for (const key of Object.keys(env)) expect(known, key).toContain(key);
      expect(() => loadConfig(env)).not.toThrow();
    }
    for (const e of container.env) expect(known).toContain(e.name);
  });

  it('let nginx accept every body the service accepts and wait longer than a computation may take', () => {
    const defaults = loadConfig({});
    for (const env of [configMap.data, compose.services.gradserve.environment]) {
      const c = loadConfig(env);
      expect(c.bodyLimitBytes).toBe(defaults.bodyLimitBytes);
      expect(c.timeoutMs).toBe(defaults.timeoutMs);
    }
    expect(directive('client_max_body_size')).toBe(`${defaults.bodyLimitBytes / 2 ** 20}m`);
    expect(seconds(directive('proxy_read_timeout')) * 1000).toBeGreaterThan(defaults.timeoutMs);
    expect(seconds(directive('proxy_next_upstream_timeout'))).toBeGreaterThanOrEqual(seconds(directive('proxy_read_timeout')));
    // keep-alive connections must be closed by nginx before Node closes them (Fastify: 72 s)
    expect(seconds(directive('keepalive_timeout'))).toBeLessThan(72);
    expect(directive('proxy_next_upstream').split(/\s+/).sort()).toEqual(['error', 'http_503', 'non_idempotent', 'timeout']);
  });

  it('give a stopping replica time to drain', () => {
    // src/server.ts lets in-flight requests finish for up to TIMEOUT_MS + 5 s after SIGTERM
    const drainSeconds = loadConfig(configMap.data).timeoutMs / 1000 + 5;
    const pause = Number(container.lifecycle.preStop.exec.command.at(-1));
    expect(pause).toBeGreaterThan(0);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(pause + drainSeconds);
    expect(composeSeconds(compose.services.gradserve.stop_grace_period)).toBeGreaterThanOrEqual(drainSeconds);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
  });

  it('run as the non-root user of the image, one worker per CPU of the limit', () => {
    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile);
    expect(user, 'Dockerfile USER must be numeric').not.toBeNull();
    const pod = deployment.spec.template.spec.securityContext;
    expect([pod.runAsNonRoot, String(pod.runAsUser), String(pod.runAsGroup)]).toEqual([true, user![1], user![2]]);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(compose.services.gradserve.read_only).toBe(true);
    expect(Number(configMap.data.WORKERS)).toBe(Number(container.resources.limits.cpu));
    expect(Number(compose.services.gradserve.environment.WORKERS)).toBe(Number(compose.services.gradserve.deploy.resources.limits.cpus));
  });

  it('build an image that starts the compiled server under tini and checks /healthz', () => {
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim AS build$|^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends libopenblas0-pthread tini/);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*\/healthz/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
    // as `npm start` runs it, flags included
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
    expect(cmd && JSON.parse(cmd[1]!)).toEqual(['node', ...NODE_FLAGS, 'dist/src/server.js']);
    expect(dockerfile).toMatch(/^EXPOSE 3000$/m);
    // nginx's `server ... resolve` needs nginx >= 1.27.3
    const [major, minor] = /nginx:(\d+)\.(\d+)/.exec(compose.services.nginx.image)!.slice(1).map(Number);
    expect(major! * 1000 + minor!).toBeGreaterThanOrEqual(1_028);
  });
});
