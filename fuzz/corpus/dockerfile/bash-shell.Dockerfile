FROM ubuntu:22.04 AS base
MAINTAINER Jane Builder <jane@example.com>
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsSL https://example.com/install.sh | bash -s -- --prefix=/opt/tool
ADD --chown=1000:1000 --chmod=0644 https://example.com/files/config.tar.gz /opt/config/
ADD --checksum=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef rootfs.tar.xz /
EXPOSE 80/tcp 53/udp
HEALTHCHECK NONE
ONBUILD COPY . /app/src
ONBUILD RUN make -C /app/src install
onbuild ADD --chown=app:app extra/ /app/extra/
STOPSIGNAL SIGQUIT

FROM base AS final
HEALTHCHECK --interval=5m --timeout=10s --start-period=1m30s --retries=3 \
  CMD ["/usr/bin/healthcheck", "--quiet"]
ENTRYPOINT ["/bin/bash", "-c"]
CMD ["exec tool --serve"]
