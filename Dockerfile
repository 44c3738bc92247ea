# syntax=docker/dockerfile:1
#
# One image for both gateway processes; compose.yaml picks the process with `command`:
#   node dist/proxy/main.js       (client-facing proxy, port 8080)
#   node dist/registrar/main.js   (registration API, port 8081)
#
# Debian (glibc), not Alpine: Hyperswarm's native modules (udx-native, sodium-native) ship
# prebuilt binaries for glibc only.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# --- build: every dependency, compile TypeScript to dist/ -----------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's `prepare` script would compile before the sources are here;
# no dependency needs an install script (native modules load their prebuilds at run time).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && rm -rf dist/tests dist/bench

# --- runtime: production dependencies and compiled JavaScript only --------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# Owned by root and only readable by the service user: the code cannot be changed at run time.
COPY --from=build /app/dist ./dist

USER node
EXPOSE 8080 8081
# The processes finish in-flight work on SIGTERM (GATEWAY_PROXY_SHUTDOWN_GRACE_MS); give them
# longer than that before SIGKILL (compose.yaml: stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["node", "dist/proxy/main.js"]
