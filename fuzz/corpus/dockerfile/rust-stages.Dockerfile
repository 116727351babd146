# syntax=docker/dockerfile:1.7-labs
ARG RUST_VERSION=1.78
FROM rust:${RUST_VERSION}-slim AS chef
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS Builder
COPY --from=planner /app/recipe.json recipe.json
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=secret,id=token,env=TOKEN \
    --network=host \
    cargo chef cook --release --recipe-path recipe.json
COPY --parents --exclude=*.md --exclude=target/ ./crates/*/src ./
RUN cargo build --release

FROM gcr.io/distroless/cc-debian12:nonroot
ARG RUST_VERSION
COPY --from=builder /app/target/release/server /server
COPY --from=0 /app/Cargo.toml /Cargo.toml
ONBUILD RUN <<EOF
echo triggered
EOF
ENTRYPOINT ["/server"]
