#!/bin/bash -eu
# SPDX-License-Identifier: MIT
# ClusterFuzzLite build: the same contract as OSS-Fuzz; one script for both.
exec bash -eu "$SRC/pvfuzz/ci/build.sh"
