# mefi's image: non-root (65532), no shell, no package manager, production
# dependencies only, Node 24.
#
#   docker build -t registry.example.com/mefi:0.1.0 .      # or podman build, buildah bud
#   make image                                             # the same file, from nothing but Debian's packages and npm
#
# The two bases are build arguments. By default they are the public images;
# `make image` (spec/support/image.ts) builds its own, without a pull, and
# passes them here: a minimal Debian 12 root file system made by mmdebstrap
# with Node from the npm package the project already uses, laid out as these
# are (node at /usr/local/bin/node in the build base, /nodejs/bin/node in the
# runtime base, user nonroot 65532), so this one file builds on either.
ARG BUILD_IMAGE=docker.io/library/node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the "node" devDependency would fetch a second Node we do not need here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY lib ./lib
# dist/mefi.js, one bundle (npm run build); then production dependencies only.
# Type declarations and source maps are never loaded at run time (a third of
# those dependencies).
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules dist -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

FROM ${RUNTIME_IMAGE}
WORKDIR /app
# Dependencies first: a change to mefi's code alone is a new layer of a few hundred kB.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin/mefi ./bin/mefi
USER 65532:65532
# Node flags as bin/mefi's first line has them (spec/unit/package.test.ts checks).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=8", "/app/bin/mefi"]
CMD ["sync", "--config=/etc/mefi/config/mefi.yaml"]
