# syntax=docker/dockerfile:1
# Switchboard: HTTP API + SIP registrar. The image runs the JavaScript that
# `npm run build` compiles into dist/ (bin/ prefers it: no loader thread, no
# inline source maps, ~40 MB less memory per process than running the
# TypeScript through tsx).

# --- deps: production node_modules, built where compilers exist -------------
FROM node:20-bookworm-slim AS deps
# sqlite3 may build from source when no prebuild matches; bcrypt 6 ships prebuilds.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# The SO_REUSEPORT addon the SIP workers bind UDP with: a file: dependency that npm builds with node-gyp.
COPY native ./native
# npm 10 (node:20) runs install scripts by default; npm 11 reads package.json "allowScripts".
RUN npm ci --omit=dev && npm cache clean --force

# --- check: the whole tree type-checks with dev dependencies; build dist/ ----
FROM deps AS check
RUN npm ci && npm cache clean --force
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY config ./config
COPY src ./src
COPY sip ./sip
COPY server ./server
COPY scripts ./scripts
COPY test ./test
COPY console ./console
# npm run build also builds the web console (types from the app's OpenAPI document, then vite) into console/dist.
RUN npx tsc --noEmit && npm run build

# --- runtime ---------------------------------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Production modules from deps; dist/ from check, which also makes the type
# check run (and pass) before an image is produced. No TypeScript sources:
# bin/ runs dist/ when there are none to compare it with.
COPY --from=deps /app/node_modules ./node_modules
# node_modules/@switchboard/udp-reuseport links here (with the addon built in deps).
COPY --from=deps /app/native ./native
COPY --from=check /app/dist ./dist
COPY --from=check /app/console/dist ./console/dist
COPY package.json package-lock.json ./
COPY bin ./bin
COPY config ./config
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# HTTP API, SIP UDP/TCP, SIP TLS, SIP WS, SIP WSS (built-in edge; the drachtio edge uses drachtio-server's ports).
EXPOSE 8080 5060/udp 5060/tcp 5061 8088 8089
# No curl in slim images: probe /healthz with node itself.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# `serve` applies pending migrations, then starts HTTP and the SIP edge.
CMD ["node", "bin/switchboard.js", "serve"]
