# proxmox-mcp container image.
#
#   docker compose up -d --build          (what setup.sh and the host-side updater run)
#
# Three stages:
#   node-runtime  the official Node.js image (Node 24, the current LTS), used only as the source of the node
#                 binary (and npm for the build)
#   build         installs dependencies from the lockfile, compiles TypeScript, drops dev dependencies
#   (final)       Ubuntu 22.04 + node + only the files the server reads at run time, as a non-root user
#
# Both bases are build args so the image can be built from local images in tests (deploy/test-container.sh)
# or from a mirror: --build-arg BASE_IMAGE=... --build-arg NODE_IMAGE=...
ARG BASE_IMAGE=ubuntu:22.04
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS node-runtime

# ---------------------------------------------------------------------------------------------------------
# Build on the same base as the final image, so anything built or picked by libc matches at run time.
FROM ${BASE_IMAGE} AS build
COPY --from=node-runtime /usr/local/bin/node /usr/local/bin/node
COPY --from=node-runtime /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /src
ENV NODE_ENV=development npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# Dependencies first (their layer is reused until the lockfile changes). No install scripts: nothing we
# depend on needs one (ssh2's optional native crypto falls back to pure JS), and none gets to run as root.
# Behind a TLS-intercepting proxy, hand its CA bundle in as a build secret (never stored in a layer):
#   docker build --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt .
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca_bundle; fi; \
    npm ci --ignore-scripts
COPY . .
# Gather exactly what runs into /out: compiled code, production node_modules, package.json (version),
# knowledge/ (data), db/migrations and any other non-TypeScript file the code reads from its own folders,
# CHANGELOG.md (get_mcp_info, check_updates), and the health probe.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && mkdir -p /out/deploy \
 && cp -a dist node_modules package.json package-lock.json knowledge /out/ \
 && find lib functions db bin -type f ! -name '*.ts' -print0 | xargs -0 -r cp --parents -t /out \
 && cp deploy/healthcheck.mjs /out/deploy/ \
 && for file in CHANGELOG.md README.md LICENSE routes.json; do if [ -e "$file" ]; then cp -a "$file" /out/; fi; done \
 && test -f /out/dist/server.js

# ---------------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# A fixed UID/GID so the host can own the bind-mounted data directories for it (setup.sh chowns them).
ARG APP_UID=10001
ARG APP_GID=10001
LABEL org.opencontainers.image.title="proxmox-mcp" \
      org.opencontainers.image.description="MCP server that lets AI agents and automation run a Proxmox VE cluster, safely" \
      org.opencontainers.image.licenses="MIT"

# node only (the official build links nothing but glibc and libstdc++, which the base has); no npm, no shell
# tools beyond the base, no SSH client (ssh2 is pure JavaScript), no compiler.
COPY --from=node-runtime /usr/local/bin/node /usr/local/bin/node

RUN groupadd --system --gid "${APP_GID}" proxmox-mcp \
 && useradd --system --uid "${APP_UID}" --gid proxmox-mcp --home-dir /var/lib/proxmox-mcp --no-create-home \
      --shell /usr/sbin/nologin proxmox-mcp \
 && mkdir -p /var/lib/proxmox-mcp/update /var/log/proxmox-mcp /var/backups/proxmox-mcp \
 && chown -R proxmox-mcp:proxmox-mcp /var/lib/proxmox-mcp /var/log/proxmox-mcp /var/backups/proxmox-mcp \
 && chmod 0750 /var/lib/proxmox-mcp /var/log/proxmox-mcp /var/backups/proxmox-mcp \
 && node --version

# Owned by root and not writable by the server: it cannot change its own code.
COPY --from=build /out /opt/proxmox-mcp
WORKDIR /opt/proxmox-mcp

# The checkout this image is built from (there is no .git in it), for get_mcp_info: docker-compose.yml passes
# them from the environment, which deploy/host-update.sh sets (GIT_COMMIT=$(git rev-parse HEAD), GIT_TAG).
# Declared this late so a new commit only changes the last, metadata-only layers.
ARG GIT_COMMIT=unknown
ARG GIT_TAG=

# Everything the server writes goes to these volumes (or /tmp, a tmpfs in docker-compose.yml), so the root
# filesystem can be read-only. The .env from setup.sh arrives as environment (env_file), not as a file.
# MCP_IN_CONTAINER: self_update and check_updates go through the host-side updater (lib/self/update-protocol.ts).
ENV NODE_ENV=production \
    MCP_PORT=3001 \
    MCP_HOST=127.0.0.1 \
    MCP_DATA_DIR=/var/lib/proxmox-mcp \
    MCP_BACKUP_DIR=/var/backups/proxmox-mcp \
    MCP_UPDATE_DIR=/var/lib/proxmox-mcp/update \
    MCP_IN_CONTAINER=1 \
    MCP_GIT_COMMIT=${GIT_COMMIT} \
    MCP_GIT_TAG=${GIT_TAG}
VOLUME ["/var/lib/proxmox-mcp", "/var/log/proxmox-mcp", "/var/backups/proxmox-mcp"]
EXPOSE 3001

USER ${APP_UID}:${APP_GID}
# node itself does the probe (no curl in the image); it asks GET /health on the address the server listens on.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/opt/proxmox-mcp/deploy/healthcheck.mjs"]
# Smaller young generation and a ceiling on the old one: the live heap is ~40 MB, but without these V8
# lets garbage grow the heap to ~190 MB before a full GC and keeps that memory (bench/README.md).
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=256", "dist/server.js"]
