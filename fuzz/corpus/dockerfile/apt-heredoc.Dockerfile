# syntax=docker/dockerfile:1
# check=skip=StageNameCasing;error=true
FROM debian:bookworm AS runtime
ARG TARGETPLATFORM
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    <<EOF
set -e
apt-get update
# keep this list sorted
apt-get install -y --no-install-recommends \
    ca-certificates \
    tini
EOF
RUN <<EOF

EOF
RUN <<-EOF
	echo tab-indented
        EOF
	EOF
COPY --chown=root:root --chmod=u=rwX,go=rX <<-"EOF" /etc/profile.d/app.sh
	export APP_HOME=/srv/app
	EOF
FROM alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS tiny
EXPOSE 8000-8010/tcp
ENV PATH="/opt/venv/bin:$PATH" EMPTY= ALSO_EMPTY=""
LABEL "com.example.vendor"="ACME Incorporated" com.example.multi="line one \
line two"
COPY --from=nginx:1.25 /etc/nginx/nginx.conf /nginx.conf
ENTRYPOINT ["/sbin/tini", "--"]
