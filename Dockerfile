# tempo-armado-sync: one image for the worker (default command) and the HTTP intake.
# Node 24, the line CI runs (scripts/use-node.sh). Not built on the development machines (no Docker engine
# there); test/unit/deployment.test.ts checks it.

# --- build: compile, bundle the workflows once, then keep production dependencies only ---
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the lock's versions, as CI installs them (.ci/run).
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && node dist/src/scripts/bundle-workflows.js dist/workflow-bundle.js \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: no compiler, no dev dependencies, not root ---
FROM node:24.22.3-bookworm-slim AS runtime
# Node 22+ sizes V8's young generation from the machine's memory (up to 64 MB per semi-space, three of them per
# isolate, and a worker has two isolates): the worker held 724–922 MiB for 1,000 open runs on Node 24 against
# 465 on Node 20. 16 MB, the old default, brings it back to 575 MiB at the same speed (bench, 1,000 payments).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=16 \
    WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    METRICS_PORT=9464 \
    INTAKE_PORT=8787
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 9464 8787
# The worker answers on its metrics port; the intake service overrides this with `healthcheck.js intake`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "dist/src/scripts/healthcheck.js", "worker"]
# SIGTERM reaches node directly (exec form): in-flight activities finish within WORKER_SHUTDOWN_GRACE.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/scripts/start.js", "--worker-only"]
