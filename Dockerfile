# The Sluice workspace as one image: the three CLIs (sluice, sluice-hub, sluice-provider) and
# anvil, all from npm. Used by docker-compose.yml; see the README's "Docker compose" section.
FROM node:24-bookworm-slim

WORKDIR /app

# Dependencies first (cached while only sources change): every workspace's package.json + the lock.
COPY package.json package-lock.json .nvmrc ./
COPY packages/channel-core/package.json packages/channel-core/
COPY packages/provider/package.json packages/provider/
COPY packages/client/package.json packages/client/
COPY packages/hub/package.json packages/hub/
COPY contracts/package.json contracts/
COPY test/package.json test/
# npm ci's postinstall applies these to two libp2p modules (see patches/README.md)
COPY patches/ patches/
RUN npm ci --no-audit --no-fund

# Sources: Node runs the TypeScript directly, there is no build step.
COPY . .

# The pinned Node (node_modules/.bin/node, 24.9.0) and the CLIs come first on the PATH.
ENV PATH=/app/node_modules/.bin:$PATH

# Volumes are mounted here; owned by the unprivileged user that runs everything.
RUN mkdir -p /shared /data /downloads && chown node:node /shared /data /downloads \
 && sluice --help > /dev/null && sluice-hub --help > /dev/null && sluice-provider --help > /dev/null
USER node

CMD ["sluice", "--help"]
