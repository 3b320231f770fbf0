# One image for every process of the distributed deployment: each service
# of docker-compose.yml runs its own command from it.

FROM golang:1.26.8-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static binaries: no C library in the final image.
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

FROM alpine:3.22
# wget (busybox) answers the container healthchecks on /readyz.
RUN addgroup -S -g 10001 nuisance && adduser -S -D -H -u 10001 -G nuisance nuisance \
    && mkdir -p /var/lib/nuisance && chown nuisance:nuisance /var/lib/nuisance
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
ENV NUISANCE_HTTP_ADDR=0.0.0.0:8080 \
    NUISANCE_DATA_DIR=/var/lib/nuisance \
    LOG_LEVEL=info
EXPOSE 8080
CMD ["nuisance", "--help"]
