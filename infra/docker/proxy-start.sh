#!/bin/sh
# HTTPS when /etc/ronin/tls holds cert.pem and key.pem (then HTTP only redirects and HSTS
# is sent); otherwise HTTP alone.
set -eu
tls=/etc/ronin/tls
if [ -s "$tls/cert.pem" ] && [ -s "$tls/key.pem" ]; then
  ln -sf /etc/nginx/ronin/https.conf /etc/nginx/conf.d/ronin.conf
  echo "proxy: HTTPS with $tls/cert.pem"
else
  ln -sf /etc/nginx/ronin/http.conf /etc/nginx/conf.d/ronin.conf
  echo "proxy: HTTP (put cert.pem and key.pem in the TLS folder for HTTPS)"
fi
exec nginx -g 'daemon off;'
