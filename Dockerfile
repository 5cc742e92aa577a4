# syntax=docker/dockerfile:1
# gradserve: gradients over REST. Build: docker build -t gradserve .
# Run:   docker run --rm -p 3000:3000 gradserve
# Every setting is an environment variable (README "Configuration"); the ones below are the image's
# defaults, the service's own defaults apply to the rest.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, TypeScript and the AssemblyScript GEMM kernel compiled ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
# tsc compiles src/ and scripts/ to dist/; scripts/build-wasm.mjs writes build/gemm.wasm.
RUN npm run build

# ---- runtime: production dependencies, the compiled service, OpenBLAS, tini ----
FROM ${NODE_IMAGE} AS runtime
# libopenblas0-pthread: the fast GEMM (BLAS=auto finds libopenblas.so.0; without it the service falls
# back to the WebAssembly kernel). tini: PID 1 that forwards SIGTERM to node and reaps zombies, so a
# `docker stop` or a Kubernetes rollout drains in-flight requests instead of killing them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libopenblas0-pthread tini \
    && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    LOG_LEVEL=info \
    BLAS=auto
# OPENBLAS_NUM_THREADS is left unset: the workers size OpenBLAS's threads to the cores idle workers leave
# free (src/engine/kernels/threads.ts); setting it pins every product to that many threads instead.
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# The kernel looks for build/gemm.wasm in the directories above its own module (dist/src/engine/kernels).
COPY --from=build /app/dist ./dist
COPY --from=build /app/build ./build

# The `node` user of the base image, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 3000

# curl is not in the slim image; node's fetch is.
HEALTHCHECK --interval=15s --timeout=5s --start-period=15s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# the flags of `npm start` (package.json), which the tests and the bench start the server with too
CMD ["node", "--max-semi-space-size=32", "dist/src/server.js"]
