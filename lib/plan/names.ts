// Kubernetes name and label rules (apimachinery validation), as predicates.
// Pure: shared by the config loader and the planner.

const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** RFC 1123 label: cluster names, namespaces, port names, hostnames. */
export function isDNS1123Label(value: string): boolean {
  return value.length <= 63 && label.test(value);
}

/** RFC 1123 subdomain: object names such as Endpoints. */
export function isDNS1123Subdomain(value: string): boolean {
  return value.length > 0 && value.length <= 253 && value.split('.').every((part) => label.test(part));
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && labelValue.test(value);
}

/** A label key: an optional DNS subdomain prefix and a name of at most 63 characters. */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const name = slash === -1 ? key : key.slice(slash + 1);
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  if (prefix !== undefined && !isDNS1123Subdomain(prefix)) return false;
  return name.length <= 63 && qualifiedNamePart.test(name);
}
