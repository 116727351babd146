FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && \
    apt-get install -y tzdata && \
    rm -rf /var/lib/apt/lists/*
ENV TZ=Europe/Paris LANG="C.UTF-8"
COPY <<EOF /etc/motd
Welcome
EOF
CMD ["bash"]
