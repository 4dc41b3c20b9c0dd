# syntax=docker/dockerfile:1
# encore serve in a container: a Debian 12 build stage compiles only the CLI (target
# encore_cli, binary `encore`), and a slim runtime stage holds the binary, the shared libraries
# it links, and a non-root user.
#
#   docker build -t encore:0.1.0 .
#   docker build --build-arg JOBS=2 -t encore:0.1.0 .     # cap compile parallelism (memory)
#
# The model is not in the image. Mount a Hugging Face model folder (config.json,
# model.safetensors or pytorch_model.bin, tokenizer.json or vocab.txt) read-only at /model:
#
#   docker run --rm -p 8080:8080 -v "$PWD/model:/model:ro" encore:0.1.0
#   docker run --rm -p 8080:8080 --cpus 4 -v "$PWD/model:/model:ro" encore:0.1.0 --model /model --host 0.0.0.0 --port 8080 --precision int8 --threads 4
#
# or copy it in with a derived image:
#
#   FROM encore:0.1.0
#   COPY --chown=10001:10001 model/ /model/
#
# Arguments after the image name replace the whole default CMD, so repeat --host 0.0.0.0
# (the server's own default is 127.0.0.1, unreachable from outside the container) and
# --model /model. Without --model the server loads the small demo model shipped in the image
# (ENCORE_MODEL below), which is enough for a smoke test:
#
#   docker run --rm -p 8080:8080 encore:0.1.0 --host 0.0.0.0 --port 8080
#
# No HEALTHCHECK: the slim image has no curl/wget, and orchestrators probe GET /health
# themselves (see deploy/deployment.yaml). If you want one for plain `docker run`, bash's
# /dev/tcp works without extra packages (assumes the default port 8080):
#   HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]

ARG DEBIAN_IMAGE=debian:bookworm-slim

############################################################################ build
FROM ${DEBIAN_IMAGE} AS build
# The build subset of scripts/install_deps.sh: that script also installs the test, benchmark
# and Python-module dependencies (GoogleTest, Google Benchmark, pybind11, NumPy, matplotlib,
# graphviz...), which this image does not build. libcpp-httplib-dev brings the OpenSSL, zlib
# and brotli headers; ocl-icd-opencl-dev is needed because Debian's dnnl-config.cmake calls
# find_package(OpenCL REQUIRED).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      nlohmann-json3-dev libicu-dev libpcre2-dev libcli11-dev libdnnl-dev \
      libcpp-httplib-dev ocl-icd-opencl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# Empty: one compile job per CPU.
ARG JOBS=
# No -march flags: the kernels pick AVX2 / AVX-512 / VNNI / AMX code at run time (cpuid), so
# the image runs on any x86-64 node and uses what that node's CPU has.
RUN cmake -S . -B build \
      -DCMAKE_BUILD_TYPE=Release \
      -DENCORE_BUILD_TESTS=OFF \
      -DENCORE_BUILD_BENCH=OFF \
      -DENCORE_BUILD_PYTHON=OFF \
 && cmake --build build --target encore_cli -j"${JOBS:-$(nproc)}" \
 && strip build/apps/encore/encore

########################################################################## runtime
FROM ${DEBIAN_IMAGE} AS runtime
# The runtime packages of what the binary links (ldd + dpkg -S on Debian 12):
#   libicuuc.so.72, libicudata.so.72  -> libicu72
#   libdnnl.so.2 (oneDNN 2.6)         -> libdnnl2 (depends on libgomp1, ocl-icd-libopencl1)
#   libgomp.so.1 (OpenMP)             -> libgomp1
#   libpcre2-32.so.0                  -> libpcre2-32-0
#   libcpp-httplib.so.0.11            -> libcpp-httplib0.11 (depends on libssl3, zlib1g,
#                                        libbrotli1)
#   libOpenCL.so.1                    -> ocl-icd-libopencl1 (loaded by oneDNN; no GPU used)
#   libstdc++, libgcc_s, libc, libm   -> already in the base image
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libicu72 libdnnl2 libgomp1 libpcre2-32-0 libcpp-httplib0.11 ocl-icd-libopencl1 \
 && rm -rf /var/lib/apt/lists/*

# Non-root user (numeric uid so Kubernetes' runAsNonRoot can verify it). Its home holds
# ~/.cache/encore/kernels.json, where encore caches the kernel variants it timed on this CPU
# (a read-only or missing cache only means timing again at the next start).
RUN groupadd --system --gid 10001 encore \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/encore --create-home \
      --shell /usr/sbin/nologin encore \
 && mkdir -p /model

COPY --from=build /src/build/apps/encore/encore /usr/local/bin/encore
# The demo model (a few MB), used when --model is not given.
COPY --from=build /src/models/demo /opt/encore/models/demo
ENV ENCORE_MODEL=/opt/encore/models/demo

# Fail the build if a shared library is missing, and check the binary runs and loads a model.
RUN ! ldd /usr/local/bin/encore | grep 'not found' \
 && encore --version \
 && encore tokenize hello > /dev/null

USER 10001:10001
WORKDIR /home/encore
EXPOSE 8080
# SIGTERM (docker stop, Kubernetes) makes the server stop accepting connections, finish the
# requests in flight, and exit 0. Exec form: encore is PID 1 and receives the signal itself.
STOPSIGNAL SIGTERM
ENTRYPOINT ["encore", "serve"]
CMD ["--model", "/model", "--host", "0.0.0.0", "--port", "8080"]
