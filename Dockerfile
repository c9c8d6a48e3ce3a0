# syntax=docker/dockerfile:1
#
# One image with the one RESI binary, `resi`: every service (resi bridge, resi parser,
# resi projector, resi api) and every operator command (migrate, topics, replay, promote, …).
# The command picks what runs, e.g.
#   docker run resi:latest resi api
#
# Stages: cargo-chef builds the dependency graph alone first (a layer that changes only with
# Cargo.toml / Cargo.lock), so editing the services' code rebuilds only the workspace crates.

ARG RUST_VERSION=1.88
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
# librdkafka is built from source by rdkafka-sys (cmake) with OpenSSL, SASL and zstd
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake libssl-dev libsasl2-dev libzstd-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --locked --version 0.1.76
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked -p resi-ctl \
 && mkdir /out \
 && cp target/release/resi /out/

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# runtime libraries only (no compiler, no headers); curl for the API's health check
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 libsasl2-2 libzstd1 curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 resi \
 && useradd --system --uid 10001 --gid resi --no-create-home --shell /usr/sbin/nologin resi
COPY --from=builder /out/ /usr/local/bin/
# the parser spools objects here; mount an emptyDir (or tmpfs) when the root filesystem is
# read-only
ENV TMPDIR=/tmp \
    RUST_LOG=info \
    RESI__TELEMETRY__LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080 9464
# the API answers /health on 8080; the other services answer their metrics endpoint
# (telemetry.metrics_listen, 9464 by convention): set RESI_HEALTH_URL to it
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD curl -fsS "${RESI_HEALTH_URL:-http://127.0.0.1:8080/health}" >/dev/null || exit 1
CMD ["resi", "--help"]
