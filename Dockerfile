# smsauth container image: docs/deployment.md, "Docker".
#
#   docker build -t smsauth .
#   docker run -d --name smsauth -p 127.0.0.1:13000:13000 -v smsauth-data:/var/lib/smsauth smsauth
#
# The final image is distroless: no shell, no curl, so no HEALTHCHECK here. Let the
# orchestrator check GET /readyz (readiness) and GET /healthz (liveness) over HTTP.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# Only what the build needs. rust-toolchain.toml is left out on purpose: the image's own
# 1.95 toolchain builds it, and rustup would otherwise try to download the pinned one.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p smsauth \
    && install -D -m 0755 target/release/smsauth /out/bin/smsauth \
    && install -d -m 0700 /out/lib/smsauth

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/bin/smsauth /usr/local/bin/smsauth
# The data directory (smsauth.db and the key files), owned by the nonroot user (65532) so
# the server can write it; a new named volume takes this owner and mode.
COPY --from=builder --chown=65532:65532 /out/lib/ /var/lib/
ENV SMSAUTH_LISTEN=0.0.0.0:13000 \
    SMSAUTH_DATA_DIR=/var/lib/smsauth
VOLUME ["/var/lib/smsauth"]
# nonroot, numerically, so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
EXPOSE 13000
# docker stop sends SIGTERM: smsauth stops accepting and finishes the requests in flight
# (up to about 11 s). Run with --stop-timeout 15 so it is not killed before.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/smsauth"]
CMD ["serve"]
