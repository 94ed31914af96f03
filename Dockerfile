# One image for every app of the workspace; the compose file picks the app with `command`.
# Node runs the TypeScript sources directly (type stripping), so there is no build step.
FROM node:24-bookworm-slim AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH NODE_ENV=production
RUN corepack enable
WORKDIR /app

# The whole workspace goes in before the install: pnpm needs every package.json the lockfile
# names, and there is no build output to keep apart.
COPY . .
RUN pnpm install --frozen-lockfile --prod
USER node
# The heap sizes of `pnpm start` (apps/api/package.json; why: apps/api/src/main.ts).
CMD ["node", "--max-semi-space-size=16", "--max-old-space-size=192", "--import", "./apps/api/src/tracing.ts", "apps/api/src/main.ts"]
