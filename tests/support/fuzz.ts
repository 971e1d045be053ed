import { Validator, type Schema } from '@cfworker/json-schema';
import fc from 'fast-check';

/** The parts of an OpenAPI 3.1 document the fuzz suite reads. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema: JsonSchema;
}

export interface MediaContent {
  schema?: JsonSchema;
}

export interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, MediaContent> };
  responses: Record<string, { content?: Record<string, MediaContent> }>;
  security?: unknown[];
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
}

/** Ids of real rows, so generated requests reach past the lookups; chosen by the name of the field or segment. */
export type IdPools = Record<string, string[]>;

export interface GenerationContext {
  document: OpenApiDocument;
  ids: IdPools;
  /** Ids that exist in another organization (must answer 404, never leak). */
  foreignIds: string[];
}

const HOSTILE_STRINGS = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '\u2028\u2029',
  '',
  ' ',
  'x'.repeat(70_000),
  "' OR 1=1 --",
  '../../etc/passwd',
  '%00',
  '${7*7}',
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  'eyJhIjoxfQ',
  '🎷'.repeat(300),
  '\ufeff\u202e',
  '1e309',
  '-1',
];

const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  2 ** 53 + 1,
  9_223_372_036_854_775_808,
  [],
  {},
  ['\u0000'],
  { '\u0000': 1 },
];

/** A value that is wrong in some way: hostile text, a wrong type, a huge number. */
export function hostileValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_VALUES) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  );
}

function resolve(context: GenerationContext, schema: JsonSchema): JsonSchema {
  let current = schema;
  for (let depth = 0; current.$ref && depth < 10; depth += 1) {
    const name = current.$ref.replace('#/components/schemas/', '');
    current = { ...context.document.components.schemas[name], ...omitRef(current) };
  }
  return current;
}

function omitRef(schema: JsonSchema): JsonSchema {
  const { $ref: _ref, ...rest } = schema;
  return rest;
}

function idPool(context: GenerationContext, hint: string): string[] {
  const direct = context.ids[hint];
  if (direct) return direct;
  return Object.values(context.ids).flat();
}

function uuidArbitrary(context: GenerationContext, hint: string): fc.Arbitrary<string> {
  const known = idPool(context, hint);
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom(...context.foreignIds) },
  );
}

function stringArbitrary(context: GenerationContext, schema: JsonSchema, hint: string): fc.Arbitrary<string> {
  if (schema.format === 'uuid') return uuidArbitrary(context, hint);
  if (schema.format === 'date-time') {
    return fc
      .date({ min: new Date('2025-01-01T00:00:00Z'), max: new Date('2030-12-31T00:00:00Z'), noInvalidDate: true })
      .map((date) => date.toISOString());
  }
  if (schema.format === 'date') {
    return fc
      .date({ min: new Date('2025-01-01T00:00:00Z'), max: new Date('2030-12-31T00:00:00Z'), noInvalidDate: true })
      .map((date) => date.toISOString().slice(0, 10));
  }
  if (schema.format === 'email') return fc.emailAddress().filter((email) => email.length <= 200);
  if (schema.format === 'uri') return fc.constantFrom('https://example.com/a', 'https://hooks.example.org/x?y=1');
  if (hint === 'slug' && context.ids['slug']) return fc.constantFrom(...context.ids['slug']);
  if (schema.pattern) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern)).map((value) => value.slice(0, schema.maxLength ?? 200));
    } catch {
      // A pattern JavaScript cannot compile: fall back to plain strings.
    }
  }
  return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) });
}

function numberArbitrary(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.exclusiveMinimum === undefined ? -1000 : schema.exclusiveMinimum + 1);
  const max = schema.maximum ?? (schema.exclusiveMaximum === undefined ? 100_000 : schema.exclusiveMaximum - 1);
  const low = Math.max(min, -1_000_000);
  const high = Math.max(low, Math.min(max, 1_000_000));
  return integer
    ? fc.integer({ min: Math.ceil(low), max: Math.floor(high) })
    : fc.double({ min: low, max: high, noNaN: true, noDefaultInfinity: true });
}

/** Values valid for a JSON Schema; `hint` is the property or parameter name, to pick ids of real rows. */
export function schemaArbitrary(
  context: GenerationContext,
  input: JsonSchema,
  hint = '',
  depth = 0,
): fc.Arbitrary<unknown> {
  return validArbitrary(context, input, hint, depth);
}

function validArbitrary(
  context: GenerationContext,
  input: JsonSchema,
  hint: string,
  depth: number,
): fc.Arbitrary<unknown> {
  const schema = resolve(context, input);
  if (depth > 6) return fc.constant(null);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return fc.oneof(...variants.map((variant) => schemaArbitrary(context, variant, hint, depth)));
  if (schema.allOf) {
    const merged = schema.allOf
      .map((part) => resolve(context, part))
      .reduce<JsonSchema>(
        (all, part) => ({
          ...all,
          ...part,
          properties: { ...all.properties, ...part.properties },
          required: [...(all.required ?? []), ...(part.required ?? [])],
        }),
        {},
      );
    return validArbitrary(context, merged, hint, depth);
  }
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const type = types.find((candidate) => candidate !== 'null') ?? (schema.properties ? 'object' : undefined);
  const nullable = types.includes('null');
  let arbitrary: fc.Arbitrary<unknown>;
  switch (type) {
    case 'string':
      arbitrary = stringArbitrary(context, schema, hint);
      break;
    case 'integer':
      arbitrary = numberArbitrary(schema, true);
      break;
    case 'number':
      arbitrary = numberArbitrary(schema, false);
      break;
    case 'boolean':
      arbitrary = fc.boolean();
      break;
    case 'array':
      arbitrary = fc.array(schemaArbitrary(context, schema.items ?? {}, hint, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, 3),
      });
      break;
    case 'object':
      arbitrary = objectArbitrary(context, schema, depth);
      break;
    default:
      arbitrary = fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean());
  }
  return nullable ? fc.option(arbitrary, { nil: null, freq: 5 }) : arbitrary;
}

function objectArbitrary(context: GenerationContext, schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(properties)) {
    record[name] = schemaArbitrary(context, property, name, depth + 1);
  }
  const known = fc.record(record, { requiredKeys: schema.required ?? [] });
  const extra =
    typeof schema.additionalProperties === 'object'
      ? fc.dictionary(
          fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/),
          schemaArbitrary(context, schema.additionalProperties, '', depth + 1),
          { maxKeys: 3 },
        )
      : fc.constant({});
  return fc.tuple(known, extra).map(([declared, additional]) => ({ ...additional, ...declared }));
}

/** A lone surrogate cannot be percent-encoded by encodeURIComponent: send its (invalid) UTF-8 bytes like a raw client. */
export function encodeComponent(value: string): string {
  return value
    .split(/([\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF])/)
    .map((part, index) => (index % 2 === 1 ? '%ED%A0%80' : encodeURIComponent(part)))
    .join('');
}

/** Query and path values as text (objects and arrays as JSON, as a careless client would). */
export function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === undefined ? '' : JSON.stringify(value);
}

/** One generated request, before it gets a host and credentials. */
export interface GeneratedRequest {
  path: string;
  query: string;
  body?: string;
  contentType?: string;
  /** Headers that reach audit rows, sessions and the idempotency store. */
  headers: Record<string, string>;
}

// Header values cannot hold NUL, CR or LF (and workerd's client sends non-ASCII as UTF-8 with a warning), so these
// are lengths and shapes.
const HOSTILE_HEADERS = fc.oneof(
  { weight: 5, arbitrary: fc.constant({}) },
  fc.record(
    {
      'user-agent': fc.constantFrom('x'.repeat(8000), '', '<script>alert(1)</script>'),
      'idempotency-key': fc.constantFrom('k'.repeat(300), 'fuzz-key-1', ' ', "' OR 1=1 --"),
      'x-request-id': fc.constantFrom('r'.repeat(129), '../../etc/passwd', 'fuzz-request-0001'),
    },
    { requiredKeys: [] },
  ),
);

type Segment = string | number;

/** Where a single mutation can land: a path parameter, a query parameter, a body leaf, or a new key in a body object. */
type Site = { part: 'path' | 'query'; name: string } | { part: 'body'; at: Segment[] } | { part: 'key'; at: Segment[] };

function bodySites(value: unknown, at: Segment[], sites: Site[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => bodySites(item, [...at, index], sites));
  } else if (value !== null && typeof value === 'object') {
    sites.push({ part: 'key', at });
    for (const [key, item] of Object.entries(value)) bodySites(item, [...at, key], sites);
  } else {
    sites.push({ part: 'body', at });
  }
}

function setAt(root: unknown, at: Segment[], value: unknown): unknown {
  if (at.length === 0) return value;
  const [head, ...rest] = at as [Segment, ...Segment[]];
  const copy = (Array.isArray(root) ? [...(root as unknown[])] : { ...(root as object) }) as Record<Segment, unknown>;
  copy[head] = setAt(copy[head], rest, value);
  return copy;
}

interface Mutation {
  site: number;
  value: unknown;
  key: string;
}

/**
 * Arbitrary requests for one operation: a valid request (ids of real rows, values inside their schemas), or the same
 * with exactly one thing wrong (a hostile value in one parameter or body field, an unknown key, a bad cursor, a
 * malformed body), so the wrong thing travels as deep as the rest of the request allows.
 */
export function requestArbitrary(
  context: GenerationContext,
  template: string,
  operation: Operation,
): fc.Arbitrary<GeneratedRequest> {
  const parameters = operation.parameters ?? [];
  const pathParameters = parameters.filter((parameter) => parameter.in === 'path');
  const queryParameters = parameters.filter((parameter) => parameter.in === 'query');
  const segments = template.split('/');
  const segmentHint = (name: string): string => {
    const at = segments.indexOf(`{${name}}`);
    return name === 'slug' ? 'slug' : at > 0 ? (segments[at - 1] ?? name) : name;
  };
  const pathValues = fc.record(
    Object.fromEntries(
      pathParameters.map((parameter) => [
        parameter.name,
        schemaArbitrary(context, parameter.schema, segmentHint(parameter.name)),
      ]),
    ),
  );
  const queryValues = fc.record(
    Object.fromEntries(
      queryParameters.map((parameter) => [parameter.name, schemaArbitrary(context, parameter.schema, parameter.name)]),
    ),
    { requiredKeys: queryParameters.filter((parameter) => parameter.required).map((parameter) => parameter.name) },
  );
  const bodySchema = operation.requestBody?.content['application/json']?.schema;
  const bodyValue = bodySchema ? schemaArbitrary(context, bodySchema) : fc.constant(undefined);
  const mutation: fc.Arbitrary<Mutation | null> = fc.option(
    fc.record({
      site: fc.nat(),
      value: hostileValue(),
      key: fc.constantFrom('role', 'organizationId', 'isPlatformAdmin', '__proto__', '\u0000', 'a\ud800'),
    }),
    { nil: null, freq: 3 },
  );
  const rawBody: fc.Arbitrary<{ body: string; contentType: string } | null> = bodySchema
    ? fc.oneof(
        { weight: 11, arbitrary: fc.constant<{ body: string; contentType: string } | null>(null) },
        fc.constantFrom<{ body: string; contentType: string } | null>(
          { body: '{"a":', contentType: 'application/json' },
          { body: 'name=x', contentType: 'text/plain' },
          { body: '['.repeat(5000), contentType: 'application/json' },
          { body: '"\\u0000"', contentType: 'application/json' },
        ),
      )
    : fc.constant(null);
  const extraQuery = fc.oneof(
    { weight: 7, arbitrary: fc.constant('') },
    fc.constantFrom(
      'cursor=zzz',
      'cursor=%E2%28',
      'cursor=eyJ4IjoxfQ',
      'limit=1e9',
      'sort=id;drop',
      'q=%00',
      'x=%ED%A0%80',
    ),
  );
  return fc
    .tuple(pathValues, queryValues, bodyValue, mutation, rawBody, extraQuery, HOSTILE_HEADERS)
    .map(([pathValue, queryValue, body, change, raw, extra, headers]) => {
      let path: Record<string, unknown> = pathValue;
      let query: Record<string, unknown> = queryValue;
      let json: unknown = body;
      if (change) {
        const sites: Site[] = [
          ...pathParameters.map((parameter): Site => ({ part: 'path', name: parameter.name })),
          ...queryParameters.map((parameter): Site => ({ part: 'query', name: parameter.name })),
        ];
        if (body !== undefined) bodySites(body, [], sites);
        const site = sites[change.site % Math.max(sites.length, 1)];
        if (site?.part === 'path') path = { ...path, [site.name]: change.value };
        else if (site?.part === 'query') query = { ...query, [site.name]: change.value };
        else if (site?.part === 'body') json = setAt(json, site.at, change.value);
        else if (site?.part === 'key') json = setAt(json, [...site.at, change.key], change.value);
      }
      const url = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeComponent(asText(path[name])));
      const pairs = Object.entries(query)
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => `${encodeURIComponent(name)}=${encodeComponent(asText(value))}`);
      if (extra) pairs.push(extra);
      const payload =
        raw ?? (json === undefined ? {} : { body: JSON.stringify(json), contentType: 'application/json' });
      return { path: url, query: pairs.join('&'), headers, ...payload };
    });
}

/**
 * A validator for one JSON Schema of the document, with `$ref`s to components resolved from `$defs`. Examples are
 * dropped first: they are annotations, and @cfworker/json-schema reads an `id` member anywhere as a (draft 4) schema
 * identifier, so two examples of one resource (the same `id`) would be "duplicate schema URIs".
 */
export function responseValidator(document: OpenApiDocument, schema: JsonSchema): Validator {
  const text = JSON.stringify({ ...schema, $defs: document.components.schemas }, (key, value: unknown) =>
    key === 'example' || key === 'examples' ? undefined : value,
  );
  const rewritten = JSON.parse(text.replaceAll('"#/components/schemas/', '"#/$defs/')) as Schema;
  return new Validator(rewritten, '2020-12', false);
}
