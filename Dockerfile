# mefi's image: small, non-root, production dependencies only.
#   docker build -t registry.example.com/mefi:0.1.0 .
# (These development machines have no Docker engine: this file is kept simple
# and is not built by the test suite.)

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the "node" devDependency would fetch a second Node we do not need here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY lib ./lib
RUN node_modules/.bin/tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Distroless: Node.js 22 (≥ 22.19, mefi's minimum), no shell, no package manager, user 65532.
FROM gcr.io/distroless/nodejs22-debian12:nonroot
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin/mefi ./bin/mefi
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/mefi"]
CMD ["sync", "--config=/etc/mefi/config/mefi.yaml"]
