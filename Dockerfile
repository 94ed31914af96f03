# One image for every app of the workspace; the compose file picks the app with `command`.
# Node runs the TypeScript sources directly (type stripping), so there is no build step.
FROM node:24-bookworm-slim AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH NODE_ENV=production
RUN corepack enable
WORKDIR /app

FROM base AS deps
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json .npmrc ./
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/dashboard/package.json apps/dashboard/
COPY apps/saas-sim/package.json apps/saas-sim/
COPY packages/core/package.json packages/core/
COPY packages/db/package.json packages/db/
RUN pnpm install --frozen-lockfile --prod

FROM base
COPY --from=deps /app /app
COPY . .
USER node
CMD ["node", "apps/api/src/main.ts"]
