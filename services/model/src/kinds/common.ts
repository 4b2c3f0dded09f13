import {
  any,
  arr,
  check,
  int,
  map,
  obj,
  oneOfStr,
  req,
  str,
  type FieldPath,
  type Report,
  type Schema,
} from '../schema.js';

/** Kubernetes label keys/values are strings; a number in YAML is the usual mistake. */
export const labels = map(str());

export const labelSelector = obj({
  matchLabels: labels,
  matchExpressions: arr(
    obj({
      key: req(str()),
      operator: req(oneOfStr('In', 'NotIn', 'Exists', 'DoesNotExist')),
      values: arr(str()),
    }),
  ),
});

/**
 * metadata: the fields Shoal reads are checked; what the API server adds (uid, resourceVersion,
 * managedFields, ownerReferences...) is accepted and ignored. Names are DNS subdomains, except
 * Services and Namespaces, whose names are DNS labels (they become parts of hostnames).
 */
export function metadata(namespaced: boolean, name: 'dnsLabel' | 'hostname' = 'hostname'): Schema {
  return obj(
    {
      name: req(str({ format: name })),
      namespace: namespaced ? str({ format: 'dnsLabel' }) : any,
      labels,
      annotations: map(str()),
      creationTimestamp: str({
        check: check<string>((v, p, r) => {
          if (Number.isNaN(Date.parse(v))) r(p, `"${v}" is not an RFC 3339 timestamp`);
        }),
      }),
    },
    { open: true },
  );
}

export const port = int(1, 65535);

export const parentRef = obj({
  group: str(),
  kind: str(),
  namespace: str({ format: 'dnsLabel' }),
  name: req(str()),
  sectionName: str(),
  port,
});

export const backendRefFields = {
  group: str(),
  kind: str(),
  name: req(str()),
  namespace: str({ format: 'dnsLabel' }),
  port,
  weight: int(0, 1000000),
};

/** Gateway API: a Service backendRef must name its port. */
export const requirePortForService = check<{ group?: string; kind?: string; port?: number }>(
  (v, p, r) => {
    const isService = (v.group ?? '') === '' && (v.kind ?? 'Service') === 'Service';
    if (isService && v.port === undefined)
      r([...p, 'port'], 'is required when referring to a Service');
  },
);

export const backendRef = obj(backendRefFields, { check: requirePortForService });

export const policyTargetRef = obj({
  group: str(),
  kind: req(str()),
  name: req(str()),
  namespace: str(),
  sectionName: str(),
});

/** Envoy Gateway policies take `targetRef` (deprecated) or `targetRefs`; require one of them. */
export const requireTarget = check<{ targetRef?: unknown; targetRefs?: unknown[] }>((v, p, r) => {
  if (v.targetRef === undefined && (v.targetRefs === undefined || v.targetRefs.length === 0))
    r([...p, 'targetRefs'], 'is required: name the Gateway or route this policy applies to');
});

export function exactlyOne(fields: string[], what: string) {
  return check<Record<string, unknown>>((v, p: FieldPath, r: Report) => {
    const set = fields.filter((f) => v[f] !== undefined);
    if (set.length !== 1)
      r(
        p,
        `set exactly one of ${fields.join(', ')} for ${what}${set.length > 1 ? ` (found ${set.join(', ')})` : ''}`,
      );
  });
}

export const duration = str({ format: 'duration' });

export const headerMatch = obj({
  type: oneOfStr('Exact', 'RegularExpression'),
  name: req(str()),
  value: req(str()),
});

const headerList = arr(obj({ name: req(str()), value: req(str()) }));
export const headerModifier = obj({ set: headerList, add: headerList, remove: arr(str()) });
