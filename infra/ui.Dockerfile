# The web UI for compose: built with node from the lockfile, served by nginx, which also
# proxies /api (including the SSE stream and media) to the API service.
FROM node:20-bookworm-slim AS build
WORKDIR /ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

FROM nginx:1.27-alpine
COPY infra/nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /ui/dist /usr/share/nginx/html
