# syntax=docker/dockerfile:1
#
# One image, every Yibao binary. Each Kubernetes Deployment (and migration Job) runs its own
# binary from /usr/local/bin by `command:`; the image's default command is the all-in-one `yibao`.
#
#   docker build -t yibao:0.1.0 .
#
# Not built on the development machines (no container engine there); CI with a container
# engine builds it. See docs/deployment.md.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# The proto crate is built with protox (pure Rust): no protoc is needed.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
        -p yibao -p yibao-gateway -p yibao-enrollment -p yibao-settlement \
        -p yibao-ltc -p yibao-procurement -p yibao-supervision \
 && mkdir -p /out \
 && for bin in yibao yibao-gateway yibao-enrollment yibao-settlement yibao-ltc yibao-procurement yibao-supervision; do \
        install -m 0755 "target/release/${bin}" "/out/${bin}"; \
    done

FROM ${RUNTIME_IMAGE}
# distroless "nonroot": uid/gid 65532, no shell, no package manager. Runs with a read-only root
# filesystem; the only writable path the binaries need in production is /tmp (an emptyDir).
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
WORKDIR /home/nonroot
ENV YIBAO__TELEMETRY__LOG_FORMAT=json
EXPOSE 7050 8080
ENTRYPOINT ["/usr/local/bin/yibao"]
