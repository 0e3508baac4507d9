# syntax=docker/dockerfile:1
# The EcrDaemon image. Build from the repository root:
#   docker build --build-arg SOURCE_REVISION="$(git rev-parse HEAD)" -t ecr-daemon .
# The image is not built in CI (no container engine there); instead the test suite runs
# scripts/publish.sh, the same publish command as below, and runs the published daemon
# (tests/EcrDaemon.Tests/Commands/PublishedOutputTests.cs).

# ---- build: the .NET 10 SDK. global.json asks for 10.0.400 with latestPatch, i.e. the 4xx feature
# band; the 10.0 tag carries the newest band, so a later band would need global.json updated. The
# NativeAOT packs are pinned in src/EcrDaemon/EcrDaemon.csproj (AotPackVersion); see README.md,
# "Building and publishing", for what a newer SDK patch does to that. ----
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# The C toolchain the Native AOT link needs, as scripts/tools.sh installs it: clang (with binutils'
# ld and objcopy and libc6-dev); the package has that name on Debian and on Ubuntu, whichever the tag carries.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# Restore first, from only the files that decide the packages, so that this layer (the NuGet
# download, with the ILCompiler and the NativeAOT runtime pack for linux-x64) stays cached until a
# package version or the project file changes, not on every source edit. .editorconfig is here
# because the build enforces code style from it.
COPY Directory.Build.props Directory.Packages.props global.json .editorconfig ./
COPY src/EcrDaemon/EcrDaemon.csproj src/EcrDaemon/
RUN dotnet restore src/EcrDaemon/EcrDaemon.csproj -r linux-x64

# Then the sources, and the one publish command CI also runs: Native AOT, one self-contained native
# executable /app/EcrDaemon (plus appsettings.json, which it reads from its own directory). Its
# restore is a no-op: the layer above did it.
COPY scripts/publish.sh scripts/
COPY src/ src/
# The commit `EcrDaemon --version` prints (the context has no .git): docker build --build-arg SOURCE_REVISION=$(git rev-parse HEAD).
# MSBuild reads the environment variable as the SourceRevisionId property.
ARG SOURCE_REVISION=""
RUN SourceRevisionId="$SOURCE_REVISION" bash scripts/publish.sh /app

# ---- runtime: chiseled Ubuntu with only what a self-contained .NET executable needs: glibc (the
# executable links only libc and libm), OpenSSL (loaded at run time for TLS) and CA certificates. No
# .NET runtime: the daemon is compiled ahead of time with its own. Chiseled images hold no shell
# and no package manager: far fewer packages to patch and scan. ----
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled
WORKDIR /app
# Root-owned and read-only to the daemon's user; the Deployment also sets readOnlyRootFilesystem.
COPY --from=build /app/EcrDaemon /app/appsettings.json ./

# Not root, and numeric so that Kubernetes' runAsNonRoot can verify it without /etc/passwd: the
# base image's own "app" user (uid and gid 1654), which is also the Helm chart's runAsUser/runAsGroup.
USER 1654:1654
# /metrics, /livez and /readyz (ASP.NET Core, compiled into the executable). The base image and the
# daemon both default to 8080; set here so that the image says so itself rather than relying on either default.
ENV ASPNETCORE_HTTP_PORTS=8080
EXPOSE 8080
# The base image also sets DOTNET_RUNNING_IN_CONTAINER=true, so logs are JSON lines on stderr.

# Exec form only: there is no shell in the image, and the daemon is PID 1, so it gets SIGTERM
# itself and exits 0 after a graceful stop. `run` is the default command; override the command
# for the others, e.g. `kubectl exec ... -- /app/EcrDaemon check`.
ENTRYPOINT ["/app/EcrDaemon"]
CMD ["run"]
