# homeops-operator image: the operator and the job runner in one image.
# Not built here (no Docker engine on the development machines); kept deliberately plain.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY crds ./crds
COPY sql ./sql
# The image's own non-root user (uid 1000); the root filesystem can be mounted read-only.
USER 1000:1000
# --max-semi-space-size: OPERATOR_NODE_FLAGS in src/images.ts.
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/dist/main.js"]
