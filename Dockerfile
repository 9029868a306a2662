# peakready image for Kubernetes (docs/kubernetes.md): the binary alone, run as a non-root user.
#   docker build -t REGISTRY/peakready:TAG .
# Build stage: the toolchain of Cargo.toml's rust-version or newer.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin peakready \
 && cp target/release/peakready /peakready \
 && strip /peakready

# Runtime: distroless "cc" carries glibc and libgcc (peakready links nothing else: rustls, no
# OpenSSL), CA certificates for https targets, and no shell or package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /peakready /usr/local/bin/peakready
# 65532 = distroless "nonroot"; the manifests set runAsUser to the same id.
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["peakready"]
