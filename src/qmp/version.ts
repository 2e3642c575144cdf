/**
 * The version tsvisor's QMP reports: QEMU 7.2.0's protocol, whose commands and replies it
 * follows, with tsvisor and its own version in "package" (where QEMU's distributors put theirs,
 * such as Debian's "Debian 1:7.2+dfsg-7+deb12u18+b3").
 */
export interface QmpVersion {
  readonly qemu: { readonly major: number; readonly minor: number; readonly micro: number };
  readonly package: string;
}

export function qmpVersion(tsvisorVersion: string): QmpVersion {
  return { qemu: { major: 7, minor: 2, micro: 0 }, package: `tsvisor ${tsvisorVersion}` };
}

/** As QEMU's reply holds it: {"qemu": {"micro", "minor", "major"}, "package"}. */
export function versionValue(version: QmpVersion) {
  return { qemu: { micro: version.qemu.micro, minor: version.qemu.minor, major: version.qemu.major }, package: version.package };
}
