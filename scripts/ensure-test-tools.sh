#!/usr/bin/env bash
# Tools the tests use, from Debian's packages, installed when missing and we may (root with
# apt-get); otherwise say how:
#   - mkfs.vfat (dosfstools) and mcopy (mtools): the FAT32 tests build disk images with them;
#   - qemu-system-x86_64 (qemu-system-x86): the oracle the QEMU front end's tests compare
#     against (they skip, loudly, without it);
#   - virsh (libvirt-clients, with libvirt's RelaxNG schema) and xmllint (libxml2-utils): the
#     oracles of the libvirt front end's tests (they skip, loudly, without them).
set -euo pipefail
missing=()
command -v mkfs.vfat >/dev/null 2>&1 || missing+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || missing+=(mtools)
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
command -v virsh >/dev/null 2>&1 || missing+=(libvirt-clients)
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tsvisor tests: installing ${missing[*]} (apt-get)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
case " ${missing[*]} " in
  *" dosfstools "*|*" mtools "*)
    echo "tsvisor tests need mkfs.vfat and mcopy: install them with 'sudo apt-get install dosfstools mtools'." >&2
    exit 1 ;;
esac
echo "tsvisor tests: ${missing[*]} missing, so the QEMU or libvirt oracle tests will be skipped; 'sudo apt-get install ${missing[*]}' runs them." >&2
