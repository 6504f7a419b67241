# The event-controller image: built on Debian 12, run on Debian 12 slim
# with only the libraries the binary links.
#
#   docker build -t event-controller:0.1.0 .

FROM debian:12 AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends \
        build-essential autoconf automake pkg-config \
        libcurl4-openssl-dev libjson-c-dev libconfig-dev libsystemd-dev \
        libyaml-dev libmicrohttpd-dev libseccomp-dev libssl-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN autoreconf -fi \
    && ./configure --prefix=/usr --sysconfdir=/etc \
        --without-systemdsystemunitdir --disable-cluster-tests \
    && make -j"$(nproc)" \
    && make install-strip DESTDIR=/staging

FROM debian:12-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends \
        ca-certificates libcurl4 libjson-c5 libconfig9 libsystemd0 \
        libyaml-0-2 libmicrohttpd12 libseccomp2 libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /staging/usr/bin/event-controller /usr/bin/event-controller
COPY --from=build /staging/etc/event-controller/ /etc/event-controller/
# The state folder for runs without a volume over it; a pod mounts one.
RUN install -d -o 65532 -g 65532 -m 0700 /var/lib/event-controller
# A numeric user, so that runAsNonRoot can check it without /etc/passwd.
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/usr/bin/event-controller"]
