/**
 * QMP lines as a harness reads them, with what must differ between QEMU and tsvisor made
 * alike: event timestamps (their shape is checked), QEMU's version micro and package (tsvisor
 * says 7.2.0 and names itself), vCPU thread ids (their type is checked) and QOM paths, and the
 * QMP socket's path. Everything else is compared as parsed JSON (member order aside).
 */
export type Normalized = unknown;

export function normalizeLine(line: string, socketPath: string): Normalized {
  if (line === '<EOF>') return line;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { unparsable: line };
  }
  return normalize(value, socketPath);
}

function normalize(value: unknown, socketPath: string): unknown {
  if (typeof value === 'string') {
    return value
      .replaceAll(socketPath, '<qmp-socket>')
      .replace(/^unix:\/\S*\.sock(,server=on)?$/, 'unix:<qmp-socket>$1')
      .replace(/thread_id=\d+/g, 'thread_id=<tid>')
      .replace(/^7\.2\.\d+[^\r]*\r\n$/, '<info version>\r\n');
  }
  if (Array.isArray(value)) return value.map((item) => normalize(item, socketPath));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  const result: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(object)) result[key] = normalize(member, socketPath);
  const timestamp = object.timestamp as { seconds?: unknown; microseconds?: unknown } | undefined;
  if (timestamp && Number.isInteger(timestamp.seconds) && Number.isInteger(timestamp.microseconds)) result.timestamp = '<timestamp>';
  const version = object.qemu as { major?: unknown; minor?: unknown; micro?: unknown } | undefined;
  if (version && typeof object.package === 'string' && Number.isInteger(version.micro)) {
    result.qemu = { major: version.major, minor: version.minor, micro: '<micro>' };
    result.package = '<package>';
  }
  // tsvisor has no QOM tree: its vCPUs' paths have QEMU's form, not QEMU's numbering.
  if ('qom-path' in object && Number.isInteger(object['thread-id'])) Object.assign(result, { 'thread-id': '<tid>', 'qom-path': '<qom-path>' });
  return result;
}
