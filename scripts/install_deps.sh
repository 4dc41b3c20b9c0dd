#!/usr/bin/env bash
# Installs encore's build and test dependencies from Debian 12 packages (idempotent:
# apt-get runs only when something is missing). Needs root, or sudo.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  nlohmann-json3-dev libicu-dev libpcre2-dev libcli11-dev libdnnl-dev
  libgtest-dev libgmock-dev libbenchmark-dev graphviz
  # encore serve's HTTP server (brings OpenSSL, zlib and brotli headers with it).
  libcpp-httplib-dev
  # The Python module (python/): pybind11 and NumPy for Debian's python3; pytest for its
  # tests; build/setuptools/wheel/venv to build the wheel and install it offline; matplotlib
  # for examples/performance_benchmark.py's plot.
  pybind11-dev python3-dev python3-numpy python3-pytest python3-build python3-setuptools
  python3-wheel python3-venv python3-matplotlib
  # encore serve's page is tested in headless Chromium through Selenium (chromedriver); a font
  # so that it renders text. wrk drives scripts/load_test.sh.
  chromium chromium-driver python3-selenium fonts-liberation wrk
  # python/tests/test_deploy.py reads deploy/*.yaml.
  python3-yaml
  # Debian builds libdnnl with its OpenCL GPU runtime, so dnnl-config.cmake calls
  # find_package(OpenCL REQUIRED). libdnnl-dev only *recommends* this package and we install
  # with --no-install-recommends, so it is named here (headers + ICD loader, ~1 MB).
  ocl-icd-opencl-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=()
  [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
  echo "install_deps.sh: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
