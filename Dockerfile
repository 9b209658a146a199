# syntax=docker/dockerfile:1
# One image for every Updraft component: `docker run updraft start` (standalone), or `scheduler`,
# `worker`, `web`, `db migrate` against DATABASE_URL (see docker-compose.yml).
FROM node:20-bookworm-slim

WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so that a source change does not reinstall them. Plain `npm ci`: tsx, which
# runs the TypeScript sources, is a runtime dependency, and nothing is compiled ahead of time.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY --chown=node:node . .

ENV NODE_ENV=production \
    UPDRAFT_HOST=0.0.0.0 \
    UPDRAFT_PORT=8080 \
    UPDRAFT_HOME=/app/.updraft \
    UPDRAFT_DAGS_FOLDER=/app/dags \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    MALLOC_MMAP_THRESHOLD_=131072

EXPOSE 8080
ENTRYPOINT ["node", "--max-semi-space-size=4", "bin/updraft.js"]
CMD ["start"]
