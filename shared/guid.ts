/**
 * A GUID in its usual 8-4-4-4-12 hex form, either case. The one pattern for tenant, client,
 * device and bulk-token ids; callers compare and store GUIDs in lower case.
 */
export const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
