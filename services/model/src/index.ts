export * from './types.js';
export * from './errors.js';
export {
  parseManifests,
  parseManifestsOrThrow,
  type ParseResult,
  type ParsedManifest,
} from './parse.js';
export { validateObject, type ObjectValidation } from './validate.js';
export { KINDS, type KindInfo } from './kinds/index.js';
export { matchesSelector, matchesLabels } from './labels.js';
export { parseDuration } from './duration.js';
export { formatPath, isIP, isIPv4, isIPv6, type FieldPath, type SchemaIssue } from './schema.js';
export { resourceKey, namespaceOf, isNamespaced } from './keys.js';
