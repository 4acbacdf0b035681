# The front door: Debian's nginx in front of the API (which serves the web UI too),
# over HTTP, or HTTPS with the user's certificate (proxy-start.sh chooses).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY infra/docker/nginx/ /etc/nginx/ronin/
COPY infra/docker/proxy-start.sh /usr/local/bin/proxy-start
EXPOSE 80 443
STOPSIGNAL SIGQUIT
CMD ["proxy-start"]
