#!/usr/bin/env bash
# Builds the container image from the Dockerfile when a Docker engine answers, and runs it
# once with --version. Without an engine it says so and succeeds, so CI can always call it.
#
#   deploy/ci-docker.sh            (image tag: smsauth:ci, or $SMSAUTH_IMAGE)
set -euo pipefail
cd "$(dirname "$0")/.."

image="${SMSAUTH_IMAGE:-smsauth:ci}"

if ! command -v docker > /dev/null 2>&1 || ! timeout 10 docker info > /dev/null 2>&1; then
  echo "no Docker engine here; image build skipped"
  exit 0
fi

echo "== docker build -t $image ."
docker build -t "$image" .

echo "== docker run --rm $image --version"
version=$(timeout 60 docker run --rm --network none "$image" --version)
echo "$version"
case "$version" in
  smsauth\ *) ;;
  *)
    echo "unexpected --version output from the image: $version" >&2
    exit 1
    ;;
esac
echo "image $image built and runs"
