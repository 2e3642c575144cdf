#!/usr/bin/env bash
# The FAT32 tests build disk images with the real tools: mkfs.vfat (dosfstools) and mcopy
# (mtools). Install them from Debian's packages when they are missing and we may; otherwise
# say how.
set -euo pipefail
if command -v mkfs.vfat >/dev/null 2>&1 && command -v mcopy >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tsvisor tests: installing dosfstools and mtools (for the FAT32 tests)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dosfstools mtools >/dev/null
  exit 0
fi
echo "tsvisor tests need mkfs.vfat and mcopy: install them with 'sudo apt-get install dosfstools mtools'." >&2
exit 1
