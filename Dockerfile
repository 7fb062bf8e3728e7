# syntax=docker/dockerfile:1
# Mahavishnu image: a static binary (CGO off; the SQLite driver is modernc.org/sqlite, pure Go)
# on distroless, running as a non-root user. Used by docker-compose.yml; see docs/deployment.md.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/mahavishnu ./cmd/mahavishnu \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
# settings/ is read relative to the working directory (settings/mahavishnu.yaml, settings/rules.yaml).
WORKDIR /app
COPY --from=build /out/mahavishnu /usr/local/bin/mahavishnu
COPY settings/ /app/settings/
# data_dir must be writable: it holds the SQLite store and the embedded Temporal server's
# files when the image runs without temporal.address (mount a volume there to keep them).
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/mahavishnu
ENV MAHAVISHNU_DATA_DIR=/var/lib/mahavishnu
USER nonroot:nonroot
# The API and dashboard. The default api.listen is 127.0.0.1:8080: set MAHAVISHNU_API_LISTEN
# (and MAHAVISHNU_API_TOKEN) to reach it from outside the container.
EXPOSE 8080
ENTRYPOINT ["mahavishnu"]
CMD ["incidents", "start"]
