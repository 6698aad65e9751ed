# flowharness in a container. Any subcommand runs (`docker run flowharness
# test /features`); `flowharness broker` makes it a Kafka-protocol broker.
#
#   docker build -t flowharness .
#
# The shipped features, fixtures, flows and schemas are in the image, and
# the reference consumer service is on the PATH for the consumer feature.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin flowharness --bin migration-status-service

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/flowharness /usr/local/bin/flowharness
COPY --from=build /src/target/release/migration-status-service /usr/local/bin/migration-status-service
COPY features /features
COPY fixtures /fixtures
COPY flows /flows
COPY schemas /schemas
WORKDIR /
ENV MIGRATION_STATUS_SERVICE=/usr/local/bin/migration-status-service
ENTRYPOINT ["flowharness"]
CMD ["--help"]
