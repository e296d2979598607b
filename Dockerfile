# Baton's coordinator and CLI, built from Debian 12's own packages.
#
#   docker build -t baton .
#   docker run --rm baton baton-coordinator --help
#
# Stage 1 builds with the -dev packages; stage 2 carries only the runtime
# libraries, the binaries, the man pages and mosquitto_sub (for healthchecks).
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libpaho-mqtt-dev libssl-dev libcjson-dev libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build reads (not a local build/ tree or .git).
COPY CMakeLists.txt ./
COPY schema/ schema/
COPY coordinator/ coordinator/
COPY agent/ agent/
COPY bench/ bench/
COPY examples/ examples/
COPY man/ man/
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBATON_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/out cmake --install /build --prefix /usr/local

FROM debian:12
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpaho-mqtt1.3 libssl3 libcjson1 libsqlite3-0 \
      mosquitto-clients sqlite3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/baton --create-home --shell /usr/sbin/nologin baton
COPY --from=build /out/usr/local/ /usr/local/
RUN ldconfig
USER baton
WORKDIR /var/lib/baton
VOLUME /var/lib/baton
# Every flag is also read from the environment (BATON_<FLAG>).
ENV BATON_STATE=/var/lib/baton/state.db
CMD ["baton-coordinator"]
